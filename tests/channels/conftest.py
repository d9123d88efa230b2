"""Fixtures for the SMS channel tests: a real SMSC (the npm `smpp` server driven by tests/channels/smsc/smsc.js)
and a real `hubbub serve` configured to bind to it.

Skipped when `node`/`npm` are not installed; with HUBBUB_REQUIRE_NODE=1 (set by .ci/run) a missing Node
fails instead of skipping."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import secrets
import shutil
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from hubbub.store.database import sqlalchemy_url
from tests.conftest import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    OTHER_ACCOUNT_SID,
    OTHER_AUTH_TOKEN,
    Server,
    _backends,
    _drop_postgres_database,
    _postgres_database,
    free_port,
    start_server,
    stop_server,
)

SMSC_DIR = Path(__file__).resolve().parent / "smsc"
OUR_NUMBER = "+15005550006"  # the configured range is +1500555*
OTHER_NUMBER = "+15005550007"


def _require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        reason = f"`{tool}` is not installed: the SMS channel tests run the npm `smpp` SMSC (tests/channels/smsc)"
        if os.environ.get("HUBBUB_REQUIRE_NODE"):
            pytest.fail(reason + " (HUBBUB_REQUIRE_NODE is set)")
        pytest.skip(reason)
    return path


@pytest.fixture(scope="session")
def node() -> str:
    """The node binary, after installing the locked `smpp` package once."""
    node_bin = _require("node")
    npm = _require("npm")
    pinned = json.loads((SMSC_DIR / "package.json").read_text())["dependencies"]["smpp"]
    installed = SMSC_DIR / "node_modules" / "smpp" / "package.json"
    if not installed.exists() or json.loads(installed.read_text())["version"] != pinned:
        result = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=SMSC_DIR, capture_output=True,
                                text=True, timeout=600)
        assert result.returncode == 0, f"npm ci failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return node_bin


class Smsc:
    """The test SMSC process: what it saw (JSON events) and commands to it."""

    def __init__(self, node_bin: str, port: int, prefix: str = "n", tls: tuple[Path, Path] | None = None) -> None:
        self.port = port
        self.prefix = prefix
        self.events: list[dict[str, Any]] = []
        self._new: queue.Queue[dict[str, Any]] = queue.Queue()
        self._lock = threading.Lock()
        args = [node_bin, str(SMSC_DIR / "smsc.js"), str(port), prefix, *(str(p) for p in tls or ())]
        self.process = subprocess.Popen(args, cwd=SMSC_DIR,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True, bufsize=1)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        try:
            self.wait_for(lambda e: e["event"] == "ready", what="the SMSC to listen")
        except BaseException:
            self.stop()
            raise

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if not line.strip():
                continue
            event = json.loads(line)
            with self._lock:
                self.events.append(event)

    def send(self, **command: Any) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.events)

    def wait_for(self, predicate: Callable[[dict[str, Any]], bool], *, count: int = 1, timeout: float = 30,
                 what: str = "an SMSC event") -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            found = [e for e in self.snapshot() if predicate(e)]
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; SMSC saw: {self.snapshot()[-20:]}")
            if self.process.poll() is not None:
                raise AssertionError(f"the SMSC exited: {self.process.stderr.read() if self.process.stderr else ''}")
            time.sleep(0.02)

    def submits(self, destination: str | None = None) -> list[dict[str, Any]]:
        return [e for e in self.snapshot() if e["event"] == "submit_sm" and e["command_status"] == 0
                and (destination is None or e["destination_addr"] == destination.lstrip("+"))]

    def wait_bound(self, count: int = 1, timeout: float = 30) -> None:
        self.wait_for(lambda e: e["event"] == "bind" and e["ok"], count=count, timeout=timeout, what="a bind")

    def deliver(self, source: str, destination: str, data: bytes, **fields: Any) -> None:
        self.send(cmd="deliver_sm", source_addr=source.lstrip("+"), destination_addr=destination.lstrip("+"),
                  short_message_hex=data.hex(), **fields)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass


def sms_config(port: int, extra: dict[str, Any] | None = None, **connection: Any) -> str:
    conn = {"name": "carrier", "numbers": ["+1500555*"], "host": "127.0.0.1", "port": port,
            "system_id": "hubbub", "password": "secret", "system_type": "hubbub", "window": 10,
            "submits_per_second": 0}
    conn.update(connection)
    return json.dumps({"connections": [conn],
                       "opt_out": {"languages": [{"stop_keywords": ["ARRET"], "start_keywords": ["ARRETNON"],
                                                  "stop_reply": "Vous êtes désinscrit."}]},
                       **(extra or {})})


class SmsWorld:
    """A Hubbub server bound to a test SMSC, both restartable."""

    def __init__(self, node_bin: str, backend: str, tmp: Path, connection: dict[str, Any] | None = None,
                 extra: dict[str, Any] | None = None, *, wait_bound: bool = True,
                 tls: tuple[Path, Path] | None = None) -> None:
        self.node_bin = node_bin
        self.tls = tls
        self.backend = backend
        self.tmp = tmp
        self.smsc_port = free_port()
        self.connection = connection or {}
        self.extra = extra or {}
        self.pg: tuple[str, str] | None = None
        if backend == "sqlite":
            self.database_url = f"sqlite:///{tmp / 'hubbub.db'}"
        else:
            name = f"hubbub_sms_{secrets.token_hex(4)}"
            self.database_url, admin = _postgres_database(name)
            self.pg = (admin, name)
        self.smsc: Smsc | None = Smsc(node_bin, self.smsc_port, "a", tls)
        self.generation = 0
        try:
            self.process, self.url = start_server(self.database_url, tmp / "server.log", self._env())
        except BaseException:
            self.smsc.stop()
            if self.pg:
                _drop_postgres_database(*self.pg)
            raise
        self.engine = create_engine(sqlalchemy_url(self.database_url))
        with self.engine.begin() as conn:
            from hubbub.actions.accounts import do_ensure_account

            do_ensure_account(conn, OTHER_ACCOUNT_SID, OTHER_AUTH_TOKEN)
        if wait_bound:
            self.smsc.wait_bound()

    def _env(self) -> dict[str, str]:
        return {"HUBBUB_SMS_CONFIG": sms_config(self.smsc_port, self.extra, **self.connection)}

    @property
    def server(self) -> Server:
        return Server(self.backend, self.url, self.database_url, self.process, self.tmp / "server.log", self.engine)

    def client(self) -> Any:
        return self.server.client()

    def restart_smsc(self, *, down_for: float = 0.0) -> Smsc:
        assert self.smsc is not None
        self.smsc.stop()
        time.sleep(down_for)
        self.generation += 1
        self.smsc = Smsc(self.node_bin, self.smsc_port, "abcdefgh"[self.generation], self.tls)
        return self.smsc

    def restart_hubbub(self) -> None:
        stop_server(self.process)
        self.start_hubbub()

    def kill_hubbub(self) -> None:
        """SIGKILL: no clean shutdown, nothing flushed."""
        self.process.kill()
        self.process.wait(10)

    def start_hubbub(self) -> None:
        self.process, self.url = start_server(self.database_url, self.tmp / "server.log", self._env())

    @contextlib.contextmanager
    def writes_blocked(self) -> Iterator[None]:
        """Hubbub's next SMS write waits until the block ends: SQLite's write lock, or on PostgreSQL an
        exclusive lock on the table an inbound SMS is written to first."""
        if self.backend == "sqlite":
            path = self.database_url.removeprefix("sqlite:///")
            lock = sqlite3.connect(path, timeout=30, isolation_level=None)
            lock.execute("BEGIN IMMEDIATE")
            try:
                yield
            finally:
                lock.execute("ROLLBACK")
                lock.close()
        else:
            with self.engine.connect() as conn:
                conn.execute(text("LOCK TABLE sms_inbound_seen IN EXCLUSIVE MODE"))
                try:
                    yield
                finally:
                    conn.rollback()

    def sql(self, query: str, **params: Any) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(text(query), params))

    def close(self) -> None:
        stop_server(self.process)
        if self.smsc is not None:
            self.smsc.stop()
        self.engine.dispose()
        if self.pg:
            _drop_postgres_database(*self.pg)
        log_text = (self.tmp / "server.log").read_text(errors="replace")
        assert "unhandled error" not in log_text, log_text[-5000:]
        # nothing went wrong in the SMS channel (other components' logs are theirs to check)
        assert " ERROR hubbub.sms" not in log_text, log_text[-5000:]


@pytest.fixture(scope="module", params=_backends())
def world(request: pytest.FixtureRequest, node: str, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[SmsWorld]:
    w = SmsWorld(node, request.param, tmp_path_factory.mktemp(f"sms-{request.param}"))
    try:
        yield w
    finally:
        w.close()


@pytest.fixture(params=_backends())
def make_world(request: pytest.FixtureRequest, node: str, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[Callable[..., SmsWorld]]:
    """A factory of fresh worlds (own SMSC, own server, own database), closed at the end of the test."""
    worlds: list[SmsWorld] = []

    def make(connection: dict[str, Any] | None = None, extra: dict[str, Any] | None = None, bound: bool = True,
             tls: tuple[Path, Path] | None = None) -> SmsWorld:
        tmp: Path = tmp_path_factory.mktemp(f"sms-{request.param}")
        world = SmsWorld(node, request.param, tmp, connection, extra, wait_bound=bound, tls=tls)
        worlds.append(world)
        return world

    yield make
    for world in worlds:
        world.close()


def wait_until(predicate: Callable[[], Any], *, timeout: float = 30, what: str = "a condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


_phones = iter(range(1_000_000))
_run = secrets.randbelow(900) + 100


def new_phone() -> str:
    """A fresh consumer number (+1555…), unique within the test session."""
    return f"+1555{_run}{next(_phones):04d}"


def sms_conversation(client: Any, phone: str, proxy: str = OUR_NUMBER, **kw: Any) -> tuple[Any, Any]:
    conversation = client.conversations.v1.conversations.create(friendly_name=f"sms {phone}", **kw)
    participant = conversation.participants.create(messaging_binding_address=phone,
                                                   messaging_binding_proxy_address=proxy)
    return conversation, participant


def receipt_of(conversation: Any, message_sid: str, participant_sid: str) -> Any:
    found = [r for r in conversation.messages(message_sid).delivery_receipts.list()
             if r.participant_sid == participant_sid]
    assert len(found) == 1
    return found[0]


def wait_receipt(conversation: Any, message_sid: str, participant_sid: str, status: str, timeout: float = 30) -> Any:
    return wait_until(lambda: (lambda r: r if r.status == status else None)(
        receipt_of(conversation, message_sid, participant_sid)), timeout=timeout,
        what=f"receipt {status} for {message_sid}")


__all__ = ["ACCOUNT_SID", "AUTH_TOKEN", "OUR_NUMBER", "OTHER_NUMBER", "Smsc", "SmsWorld", "new_phone", "receipt_of",
           "sms_conversation", "wait_receipt", "wait_until"]
