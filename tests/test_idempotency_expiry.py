"""Idempotency keys live 24 hours: an expired key no longer replays and is purged by maintenance."""

from __future__ import annotations

from sqlalchemy import select, update

from hubbub.api.http import IDEMPOTENCY_TTL, purge_idempotency_keys
from hubbub.store.schema import idempotency_keys


def test_expired_key_runs_the_request_again_and_is_purged(server) -> None:  # type: ignore[no-untyped-def]
    headers = {"I-Twilio-Idempotency-Token": "expiry-test-key"}
    first = server.http("POST", "/v1/Conversations", data={"FriendlyName": "a"}, headers=headers).json()
    again = server.http("POST", "/v1/Conversations", data={"FriendlyName": "a"}, headers=headers).json()
    assert again["sid"] == first["sid"]

    with server.engine.begin() as conn:  # age the key past its lifetime
        conn.execute(update(idempotency_keys).where(idempotency_keys.c.key == "expiry-test-key")
                     .values(date_created=idempotency_keys.c.date_created - IDEMPOTENCY_TTL - 1))
    after = server.http("POST", "/v1/Conversations", data={"FriendlyName": "a"}, headers=headers).json()
    assert after["sid"] != first["sid"]

    with server.engine.begin() as conn:
        conn.execute(update(idempotency_keys).where(idempotency_keys.c.key == "expiry-test-key")
                     .values(date_created=idempotency_keys.c.date_created - IDEMPOTENCY_TTL - 1))
        assert purge_idempotency_keys(conn) >= 1
        assert conn.execute(select(idempotency_keys).where(
            idempotency_keys.c.key == "expiry-test-key")).first() is None
