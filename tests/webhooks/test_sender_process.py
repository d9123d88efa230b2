"""The sender child process that `hubbub serve` starts (HUBBUB_WEBHOOK_SENDER=process, the default): it is
restarted when it dies, without losing or reordering deliveries; it ends with the server, cleanly on
SIGTERM and at once when the server is SIGKILLed."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

from conftest import stop_server

from .conftest import AUTH_TOKEN, launch, new_database
from .receiver import Receiver, Reply, signature_valid, wait_until


def children(pid: int) -> list[int]:
    """Processes whose parent is `pid`."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def one_child(server: Any) -> int:
    wait_until(lambda: len(children(server.process.pid)) == 1, what="the sender process")
    (pid,) = children(server.process.pid)
    return pid


def configure(server: Any, receiver: Receiver, path: str) -> Any:
    client = server.client()
    client.conversations.v1.services(
        client.conversations.v1.configuration().fetch().default_chat_service_sid
    ).configuration.webhooks().update(post_webhook_url=receiver.url(path), filters=["onMessageAdded"],
                                      method="POST")
    return client


def test_a_killed_sender_is_restarted_and_resends_what_it_had(tmp_path: Path, wh_server: Any) -> None:
    receiver = Receiver()
    db = new_database(wh_server.backend, tmp_path)
    server = launch(db, tmp_path / "server.log")
    try:
        client = configure(server, receiver, "/restart")
        first = one_child(server)
        # the receiver holds every request: the sender has deliveries in flight and queued in its lanes
        receiver.on("/restart", lambda rec: Reply(200, delay=2.0))
        conversations = [client.conversations.v1.conversations.create(friendly_name=f"r {n}") for n in range(3)]
        sent: dict[str, list[str]] = {c.sid: [] for c in conversations}
        for i in range(4):
            for conv in conversations:
                sent[conv.sid].append(conv.messages.create(author="bob", body=f"{i}",
                                                           x_twilio_webhook_enabled="true").sid)
        receiver.wait(lambda: len(receiver.at("/restart")) >= len(conversations), what="requests in flight")
        os.kill(first, signal.SIGKILL)
        receiver.on("/restart", lambda rec: Reply(200))
        wait_until(lambda: [pid for pid in children(server.process.pid) if pid != first],
                   what="a new sender process")
        second = one_child(server)
        assert second != first and server.process.poll() is None

        def delivered() -> set[str]:
            return {r.form["MessageSid"] for r in receiver.at("/restart")}

        everything = {sid for sids in sent.values() for sid in sids}
        wait_until(lambda: delivered() >= everything, what="every message delivered by the new sender")
        assert all(signature_valid(receiver, r, AUTH_TOKEN) for r in receiver.at("/restart"))
        # per conversation, first arrivals in commit order, across the restart
        for conv, sids in sent.items():
            firsts: list[str] = []
            for r in receiver.at("/restart"):
                if r.form["ConversationSid"] == conv and r.form["MessageSid"] not in firsts:
                    firsts.append(r.form["MessageSid"])
            assert firsts == sids
        # and the new one works for what comes next
        extra = conversations[0].messages.create(author="bob", body="after", x_twilio_webhook_enabled="true").sid
        wait_until(lambda: extra in delivered(), what="a delivery after the restart")
        assert "webhook sender process ended" in (tmp_path / "server.log").read_text()
    finally:
        stop_server(server.process)
        server.engine.dispose()
        db.drop()
        receiver.stop()


def test_sigterm_stops_the_sender_with_the_server(tmp_path: Path, wh_server: Any) -> None:
    receiver = Receiver()
    db = new_database(wh_server.backend, tmp_path)
    server = launch(db, tmp_path / "server.log")
    try:
        client = configure(server, receiver, "/term")
        child = one_child(server)
        conv = client.conversations.v1.conversations.create(friendly_name="term")
        sid = conv.messages.create(author="bob", body="hi", x_twilio_webhook_enabled="true").sid
        receiver.wait(lambda: any(r.form.get("MessageSid") == sid for r in receiver.at("/term")),
                      what="the delivery")
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=30) == 0
        wait_until(lambda: not alive(child), timeout=10, what="the sender process to end")
        log = (tmp_path / "server.log").read_text()
        assert "Traceback" not in log and "sender process ended" not in log, log[-3000:]
    finally:
        stop_server(server.process)
        server.engine.dispose()
        db.drop()
        receiver.stop()


def test_the_sender_ends_when_the_server_is_killed(tmp_path: Path, wh_server: Any) -> None:
    db = new_database(wh_server.backend, tmp_path)
    server = launch(db, tmp_path / "server.log")
    try:
        child = one_child(server)
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(timeout=10)
        deadline = time.monotonic() + 10
        while alive(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(child)
    finally:
        stop_server(server.process)
        server.engine.dispose()
        db.drop()


def test_inline_sender_runs_no_child(tmp_path: Path, wh_server: Any) -> None:
    receiver = Receiver()
    db = new_database(wh_server.backend, tmp_path)
    server = launch(db, tmp_path / "server.log", {"HUBBUB_WEBHOOK_SENDER": "inline"})
    try:
        client = configure(server, receiver, "/inline")
        conv = client.conversations.v1.conversations.create(friendly_name="inline")
        sid = conv.messages.create(author="bob", body="hi", x_twilio_webhook_enabled="true").sid
        receiver.wait(lambda: any(r.form.get("MessageSid") == sid for r in receiver.at("/inline")),
                      what="the delivery")
        assert children(server.process.pid) == []
    finally:
        stop_server(server.process)
        server.engine.dispose()
        db.drop()
        receiver.stop()
