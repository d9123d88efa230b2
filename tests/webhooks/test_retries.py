"""Durable post-action delivery: retries with the same idempotency token and fresh signatures, parking
after the retry schedule, and replay from the API and the CLI."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from .conftest import AUTH_TOKEN, Hooks
from .receiver import Receiver, Reply, fails_first, signature_valid

SCHEDULE_ATTEMPTS = 4  # the test server's schedule: 1 attempt + 3 retries


def _delivery(hooks: Hooks, sid: str) -> dict[str, Any]:
    response = hooks.server.http("GET", f"/hubbub/v1/WebhookDeliveries/{sid}")
    assert response.status_code == 200, response.text
    return response.json()


def _wait_status(hooks: Hooks, sid: str, status: str) -> dict[str, Any]:
    found: dict[str, Any] = {}

    def check() -> bool:
        found.update(_delivery(hooks, sid))
        return found["status"] == status

    hooks.receiver.wait(check, what=f"delivery {sid} {status}")
    return found


def test_failed_attempts_are_retried_until_delivered(hooks: Hooks) -> None:
    hooks.configure(filters=["onMessageAdded"])
    hooks.receiver.on(hooks.post_path, fails_first(2, 500))
    conv = hooks.conversation(friendly_name="flaky receiver")
    bodies = [f"m{n}" for n in range(5)]
    for body in bodies:
        conv.messages.create(author="bob", body=body, x_twilio_webhook_enabled="true")
    received = hooks.wait("onMessageAdded", 3 * len(bodies))
    by_token: dict[str, list[Any]] = {}
    for rec in received:
        by_token.setdefault(rec.token or "", []).append(rec)
    assert len(by_token) == len(bodies)  # one idempotency token per event, kept across retries
    assert sorted(recs[0].form["Body"] for recs in by_token.values()) == bodies
    for recs in by_token.values():
        assert [r.form["RetryCount"] for r in recs] == ["0", "1", "2"]
        assert len({r.form["MessageSid"] for r in recs}) == 1
        # each attempt is signed afresh (RetryCount changes the signed parameters) and validates
        assert len({r.headers["x-twilio-signature"] for r in recs}) == 3
        assert all(signature_valid(hooks.receiver, r, AUTH_TOKEN) for r in recs)
    for sid in by_token:
        delivery = _wait_status(hooks, sid, "delivered")
        assert delivery["attempts"] == 3 and delivery["last_response_code"] == 200
        attempts = hooks.server.http("GET", f"/hubbub/v1/WebhookDeliveries/{sid}/Attempts").json()["attempts"]
        assert [(a["retry_count"], a["status_code"], a["success"]) for a in attempts] == [
            (0, 500, False), (1, 500, False), (2, 200, True)]


def test_exhausted_retries_park_the_delivery_and_replay_delivers_it(hooks: Hooks) -> None:
    hooks.configure(filters=["onMessageAdded"])
    hooks.receiver.on(hooks.post_path, lambda rec: Reply(503))
    conv = hooks.conversation(friendly_name="down")
    conv.messages.create(author="bob", body="parked", x_twilio_webhook_enabled="true")
    received = hooks.wait("onMessageAdded", SCHEDULE_ATTEMPTS)
    sid = received[0].token or ""
    delivery = _wait_status(hooks, sid, "failed")
    assert delivery["attempts"] == SCHEDULE_ATTEMPTS and delivery["last_error"] == "HTTP 503"
    assert len(hooks.events()) == SCHEDULE_ATTEMPTS  # parked: no more attempts
    hooks.receiver.on(hooks.post_path, lambda rec: Reply(200))
    replayed = hooks.server.http("POST", f"/hubbub/v1/WebhookDeliveries/{sid}/Replay")
    assert replayed.status_code == 200, replayed.text
    assert replayed.json()["status"] == "pending"
    last = hooks.wait("onMessageAdded", SCHEDULE_ATTEMPTS + 1)[-1]
    assert last.token == sid and last.form["Body"] == "parked" and last.form["RetryCount"] == "0"
    assert signature_valid(hooks.receiver, last, AUTH_TOKEN)
    assert _wait_status(hooks, sid, "delivered")["date_delivered"]


def test_receiver_down_for_the_whole_window_then_replay_from_the_cli(hooks: Hooks) -> None:
    down = Receiver()
    port = down.port
    down.stop()  # nothing listens: every attempt is refused
    try:
        hooks.service.configuration.webhooks().update(post_webhook_url=f"http://127.0.0.1:{port}/down",
                                                      filters=["onMessageAdded"], method="POST")
        conv = hooks.conversation(friendly_name="receiver down")
        conv.messages.create(author="bob", body="first", x_twilio_webhook_enabled="true")
        conv.messages.create(author="bob", body="second", x_twilio_webhook_enabled="true")

        def parked() -> bool:
            return [d["status"] for d in hooks.deliveries(ConversationSid=conv.sid)] == ["failed", "failed"]

        hooks.receiver.wait(parked, what="both deliveries parked")
        for d in hooks.deliveries(ConversationSid=conv.sid):
            assert d["attempts"] == SCHEDULE_ATTEMPTS and d["last_response_code"] is None and d["last_error"]
        down = Receiver(port)  # the receiver is back
        result = subprocess.run(
            [sys.executable, "-m", "hubbub", "webhooks", "replay", "--status", "failed", "--conversation", conv.sid,
             "--database-url", hooks.server.database_url],
            capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        assert "replayed 2 deliveries" in result.stdout
        received = down.wait_for("/down", 2)
        assert [r.form["Body"] for r in received] == ["first", "second"]
        assert all(signature_valid(down, r, AUTH_TOKEN) for r in received)
    finally:
        down.stop()


def test_replay_of_many_by_filter_and_errors(hooks: Hooks) -> None:
    hooks.configure(filters=["onMessageAdded"])
    hooks.receiver.on(hooks.post_path, lambda rec: Reply(500))
    conv = hooks.conversation(friendly_name="bulk")
    for n in range(3):
        conv.messages.create(author="bob", body=f"bulk {n}", x_twilio_webhook_enabled="true")
    hooks.receiver.wait(lambda: [d["status"] for d in hooks.deliveries(ConversationSid=conv.sid)] == ["failed"] * 3,
                        what="three parked deliveries")
    hooks.receiver.on(hooks.post_path, lambda rec: Reply(204))
    response = hooks.server.http("POST", "/hubbub/v1/WebhookDeliveries/Replay",
                                 data={"ConversationSid": conv.sid, "EventType": "onMessageAdded"})
    assert response.status_code == 200 and response.json() == {"replayed": 3}
    hooks.receiver.wait(lambda: [d["status"] for d in hooks.deliveries(ConversationSid=conv.sid)]
                        == ["delivered"] * 3, what="three delivered")
    # a pending or unknown delivery cannot be replayed; bad filters are refused
    conv.messages.create(author="bob", body="fresh", x_twilio_webhook_enabled="true")
    sid = hooks.deliveries(ConversationSid=conv.sid)[0]["sid"]
    hooks.receiver.wait(lambda: _delivery(hooks, sid)["status"] == "delivered", what="delivered")
    again = hooks.server.http("POST", f"/hubbub/v1/WebhookDeliveries/{sid}/Replay")
    assert again.status_code == 200  # a delivered one may be sent again
    missing = hooks.server.http("POST", "/hubbub/v1/WebhookDeliveries/WD" + "0" * 32 + "/Replay")
    assert missing.status_code == 404 and missing.json()["code"] == 20404
    bad = hooks.server.http("POST", "/hubbub/v1/WebhookDeliveries/Replay", data={"Status": "pending"})
    assert bad.status_code == 400 and bad.json()["code"] == 20001


def test_pending_delivery_cannot_be_replayed(hooks: Hooks) -> None:
    hooks.configure(filters=["onMessageAdded"])
    hooks.receiver.on(hooks.post_path, lambda rec: Reply(200, delay=1.5))
    conv = hooks.conversation(friendly_name="slow")
    conv.messages.create(author="bob", body="slow", x_twilio_webhook_enabled="true")
    sid = hooks.deliveries(ConversationSid=conv.sid)[0]["sid"]
    response = hooks.server.http("POST", f"/hubbub/v1/WebhookDeliveries/{sid}/Replay")
    assert response.status_code == 409 and response.json()["code"] == 50071
    hooks.receiver.wait(lambda: _delivery(hooks, sid)["status"] == "delivered", what="delivered")
