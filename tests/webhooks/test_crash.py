"""Nothing is lost when the server dies: deliveries live in the database from the commit of their change
until their outcome is written, so a SIGKILLed server sends them after it restarts."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

from conftest import stop_server

from .conftest import AUTH_TOKEN, launch, new_database
from .receiver import Receiver, Reply, signature_valid, wait_until


def test_sigkill_with_pending_deliveries_loses_nothing(tmp_path: Path, wh_server: Any) -> None:
    receiver = Receiver()
    db = new_database(wh_server.backend, tmp_path)
    server = launch(db, tmp_path / "server.log")
    try:
        client = server.client()
        client.conversations.v1.services(
            client.conversations.v1.configuration().fetch().default_chat_service_sid
        ).configuration.webhooks().update(post_webhook_url=receiver.url("/crash"), filters=["onMessageAdded"],
                                          method="POST")
        # the receiver hangs, then fails: deliveries are in flight, claimed, or waiting for a retry
        receiver.on("/crash", lambda rec: Reply(503, delay=3.0))
        conversations = [client.conversations.v1.conversations.create(friendly_name=f"crash {n}") for n in range(4)]
        created: set[str] = set()
        for i in range(6):
            for conv in conversations:
                created.add(conv.messages.create(author="bob", body=f"{conv.sid} {i}",
                                                 x_twilio_webhook_enabled="true").sid)
        receiver.wait(lambda: len(receiver.at("/crash")) >= len(conversations), what="attempts in flight")
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(timeout=10)
        before_restart = {r.form["MessageSid"] for r in receiver.at("/crash")}
        assert before_restart < created  # most were never sent, none were acknowledged

        receiver.on("/crash", lambda rec: Reply(200))
        server = launch(db, tmp_path / "server.log")

        def delivered() -> set[str]:
            return {r.form["MessageSid"] for r in receiver.at("/crash")}

        wait_until(lambda: delivered() >= created, timeout=60, what="every message delivered after the restart")
        assert all(signature_valid(receiver, r, AUTH_TOKEN) for r in receiver.at("/crash"))
        # every event kept one idempotency token, however many times it was sent
        tokens: dict[str, set[str]] = {}
        for r in receiver.at("/crash"):
            tokens.setdefault(r.form["MessageSid"], set()).add(r.token or "")
        assert all(len(t) == 1 for t in tokens.values())

        def all_delivered() -> bool:
            body = server.http("GET", "/hubbub/v1/WebhookDeliveries", params={"PageSize": "100"}).json()
            return [d["status"] for d in body["deliveries"]] == ["delivered"] * len(created)

        wait_until(all_delivered, what="the delivery log shows every delivery delivered")
    finally:
        stop_server(server.process)
        server.engine.dispose()
        db.drop()
        receiver.stop()
