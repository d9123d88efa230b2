"""Test harness: a real Hubbub server (the `hubbub serve` command) on a loopback port, on SQLite and,
when `HUBBUB_TEST_POSTGRES_URL` is set, on PostgreSQL too. Tests drive it over HTTP, most of them with
the official `twilio` helper library."""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import Engine

from hubbub.store import schema
from hubbub.store.database import sqlalchemy_url

ACCOUNT_SID = "AC" + "a1" * 16
AUTH_TOKEN = "hubbub-test-token-" + "0" * 14
OTHER_ACCOUNT_SID = "AC" + "b2" * 16
OTHER_AUTH_TOKEN = "other-account-token-" + "1" * 12

for _var in ("TWILIO_REGION", "TWILIO_EDGE", "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
    os.environ.pop(_var, None)
os.environ["NO_PROXY"] = "127.0.0.1,localhost"


def _backends() -> list[str]:
    backends = ["sqlite"]
    if os.environ.get("HUBBUB_TEST_POSTGRES_URL"):
        backends.append("postgresql")
    return backends


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _postgres_database(tmp_name: str) -> tuple[str, str]:
    """Create a fresh database for one test session; returns (its URL, the admin URL)."""
    admin_url = os.environ["HUBBUB_TEST_POSTGRES_URL"]
    admin = create_engine(sqlalchemy_url(admin_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{tmp_name}"'))
        conn.execute(text(f'CREATE DATABASE "{tmp_name}"'))
    admin.dispose()
    base, _, _ = admin_url.rpartition("/")
    return f"{base}/{tmp_name}", admin_url


def _drop_postgres_database(admin_url: str, name: str) -> None:
    admin = create_engine(sqlalchemy_url(admin_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@contextlib.contextmanager
def scratch_database(backend: str, tmp: Path, prefix: str) -> Iterator[str]:
    """The URL of an empty database of `backend`: a SQLite file in `tmp`, or a fresh PostgreSQL database
    named `prefix_…`, dropped on leaving."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp / 'hubbub.db'}"
        return
    name = f"{prefix}_{secrets.token_hex(4)}"
    url, admin_url = _postgres_database(name)
    try:
        yield url
    finally:
        _drop_postgres_database(admin_url, name)


@dataclass
class Server:
    backend: str
    url: str
    database_url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    engine: Engine
    account_sid: str = ACCOUNT_SID
    auth_token: str = AUTH_TOKEN

    def client(self, account_sid: str = ACCOUNT_SID, auth_token: str = AUTH_TOKEN, **kw: object) -> object:
        from twilio.rest import Client

        client = Client(account_sid, auth_token, environment={"HUBBUB_TEST": "1"}, **kw)  # type: ignore[arg-type]
        client.conversations.base_url = self.url
        return client

    def count(self, table: str) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(schema.metadata.tables[table])).scalar_one())

    def counts(self) -> dict[str, int]:
        return {name: self.count(name) for name in
                ("conversations", "participants", "messages", "receipts", "events", "idempotency_keys")}

    def http(self, method: str, path: str, *, auth: tuple[str, str] | None = None, **kw: object
             ) -> requests.Response:
        return requests.request(method, self.url + path, auth=auth or (ACCOUNT_SID, AUTH_TOKEN),
                                timeout=30, **kw)  # type: ignore[arg-type]


def start_server(database_url: str, log_path: Path, env_extra: dict[str, str] | None = None
                 ) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = dict(os.environ, HUBBUB_ACCOUNT_SID=ACCOUNT_SID, HUBBUB_AUTH_TOKEN=AUTH_TOKEN,
               HUBBUB_LOG_LEVEL="warning", **(env_extra or {}))
    log = log_path.open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "hubbub", "serve", "--port", str(port), "--database-url", database_url],
        stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {log_path.read_text()[-3000:]}")
        try:
            requests.get(url + "/v1/Configuration", timeout=1)
            return process, url
        except requests.ConnectionError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"server did not start: {log_path.read_text()[-3000:]}")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session", params=_backends())
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    backend: str = request.param
    tmp = tmp_path_factory.mktemp(f"server-{backend}")
    with scratch_database(backend, tmp, "hubbub_test") as database_url:
        process, url = start_server(database_url, tmp / "server.log")
        engine = create_engine(sqlalchemy_url(database_url))
        # A second account, to check that accounts never see each other's data.
        with engine.begin() as conn:
            from hubbub.actions.accounts import do_ensure_account

            do_ensure_account(conn, OTHER_ACCOUNT_SID, OTHER_AUTH_TOKEN)
        srv = Server(backend, url, database_url, process, tmp / "server.log", engine)
        try:
            yield srv
        finally:
            stop_server(process)
            engine.dispose()
            log_text = (tmp / "server.log").read_text(errors="replace")
            # No request may produce a 500: the server logs every unhandled error.
            assert "unhandled error" not in log_text, log_text[-5000:]


@pytest.fixture
def client(server: Server) -> object:
    return server.client()


@pytest.fixture
def other_client(server: Server) -> object:
    return server.client(OTHER_ACCOUNT_SID, OTHER_AUTH_TOKEN)
