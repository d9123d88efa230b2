"""Unit tests without a server: signing, parameters, settings, trigger matching, and the dispatcher with an
injected HTTP transport (httpx.MockTransport) on a real SQLite database."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import orjson
import pytest
from twilio.request_validator import RequestValidator

from hubbub.webhooks.config import WebhookSettings, parse_schedule, parse_span
from hubbub.webhooks.payloads import EVENT_PARAMS, event_params, webhook_date
from hubbub.webhooks.signing import signature, signed_request
from hubbub.webhooks.targets import trigger_matches

TOKEN = "12345678901234567890123456789012"


def test_signature_matches_the_official_validator() -> None:
    params = [("To", "+15551234567"), ("Body", "héllo & ünïcode ✓"), ("AccountSid", "AC" + "1" * 32),
              ("Empty", "")]
    url = "https://example.com:8443/hook/path?x=1&y=two"
    sig = signature(TOKEN, url, params)
    validator = RequestValidator(TOKEN)
    assert validator.compute_signature(url, dict(params)) == sig
    assert validator.validate(url, dict(params), sig)
    assert not validator.validate(url, {**dict(params), "Body": "tampered"}, sig)


def test_signed_requests_post_and_get() -> None:
    params = [("EventType", "onMessageAdded"), ("Body", "a=b&c d")]
    url, body, headers = signed_request(TOKEN, "POST", "https://h.example/w#ct=1000", params)
    assert url == "https://h.example/w" and body is not None
    assert dict(parse_qsl(body.decode())) == dict(params)
    assert headers["Content-Type"].startswith("application/x-www-form-urlencoded")
    assert RequestValidator(TOKEN).validate(url, dict(params), headers["X-Twilio-Signature"])
    url, body, headers = signed_request(TOKEN, "GET", "https://h.example/w?k=v", params)
    assert body is None and url.startswith("https://h.example/w?k=v&EventType=onMessageAdded")
    assert RequestValidator(TOKEN).validate(url, {}, headers["X-Twilio-Signature"])


class _MultiDict(dict):  # type: ignore[type-arg]
    """What Flask hands the validator: several values per name."""

    def getall(self, name: str) -> list[str]:
        return list(self[name])


def test_repeated_parameters_sign_like_twilio() -> None:
    params = [("MessagingBinding.Address", "+2"), ("MessagingBinding.Address", "+1"), ("A", "x")]
    multi = _MultiDict({"MessagingBinding.Address": ["+2", "+1"], "A": ["x"]})
    assert signature(TOKEN, "https://h/", params) == RequestValidator(TOKEN).compute_signature("https://h/", multi)


ROWS: dict[str, dict[str, Any]] = {
    "conversation": {"sid": "CH" + "1" * 32, "chat_service_sid": "IS" + "2" * 32, "messaging_service_sid": None,
                     "friendly_name": "f", "unique_name": None, "attributes": "{}", "state": "active",
                     "date_created": 1_700_000_000, "date_updated": 1_700_000_001, "bindings": "{}"},
    "message": {"sid": "IM" + "3" * 32, "conversation_sid": "CH" + "1" * 32, "chat_service_sid": "IS" + "2" * 32,
                "index": 4, "author": "alice", "body": "hi", "attributes": "{}", "participant_sid": "MB" + "4" * 32,
                "media": '[{"sid": "ME' + "5" * 32 + '", "size": 3, "content_type": "image/png", "filename": "a"}]',
                "date_created": 1_700_000_000, "date_updated": None},
    "participant": {"sid": "MB" + "4" * 32, "conversation_sid": "CH" + "1" * 32, "chat_service_sid": "IS" + "2" * 32,
                    "identity": None, "binding_type": "whatsapp", "address": "whatsapp:+1555",
                    "proxy_address": "whatsapp:+1666", "projected_address": None, "attributes": "{}",
                    "role_sid": "RL" + "6" * 32, "last_read_message_index": 2, "date_created": 1_700_000_000,
                    "date_updated": 1_700_000_000},
    "user": {"sid": "US" + "7" * 32, "chat_service_sid": "IS" + "2" * 32, "identity": "u", "friendly_name": None,
             "attributes": "{}", "role_sid": "RL" + "8" * 32, "is_online": True, "is_notifiable": None,
             "date_created": 1_700_000_000, "date_updated": 1_700_000_000},
    "receipt": {"sid": "DY" + "9" * 32, "conversation_sid": "CH" + "1" * 32, "chat_service_sid": "IS" + "2" * 32,
                "message_sid": "IM" + "3" * 32, "participant_sid": "MB" + "4" * 32, "channel_message_sid": None,
                "status": "delivered", "error_code": 0, "date_created": 1_700_000_000, "date_updated": None},
}


@pytest.mark.parametrize("event", sorted(EVENT_PARAMS))
def test_every_event_sends_only_its_parameters(event: str) -> None:
    kind = {"Conversation": "conversation", "Message": "message", "Participant": "participant", "User": "user",
            "Delivery": "receipt"}[next(k for k in ("Conversation", "Message", "Participant", "User", "Delivery")
                                        if k in event)]
    data: dict[str, Any] = {kind: ROWS[kind]}
    if event == "onConversationStateUpdated":
        data.update(state_from="active", state_to="inactive", reason="TIMER")
    params = event_params(event, data, account_sid="AC" + "0" * 32, source="TIMER", client_identity=None,
                          event_date=1_700_000_100, messaging_service_sid="MG" + "0" * 32)
    names = [n for n, _ in params]
    assert len(names) == len(set(names))
    assert names[:3] == ["AccountSid", "EventType", "Source"] and dict(params)["Source"] == "API"
    assert set(names) <= set(EVENT_PARAMS[event]) | {"AccountSid", "EventType", "Source", "ChatServiceSid"}
    form = dict(params)
    if event == "onMessageAdded":
        assert form["Media"] == ('[{"Sid":"ME' + "5" * 32 + '","Filename":"a","ContentType":"image/png","Size":3}]')
        assert form["MessagingServiceSid"] == "MG" + "0" * 32 and form["Index"] == "4"
    if event == "onParticipantUpdated":
        assert (form["MessagingBinding.Type"], form["LastReadMessageIndex"]) == ("WHATSAPP", "2")
        assert "Identity" not in form  # null values are left out
    if event == "onUserUpdated":
        assert form["isOnline"] == "true" and "isNotifiable" not in form
    if event == "onConversationStateUpdated":
        assert (form["StateFrom"], form["StateTo"], form["Reason"]) == ("active", "inactive", "TIMER")
        assert form["StateUpdated"] == webhook_date(1_700_000_100)
    if event == "onDeliveryUpdated":
        assert (form["DeliveryReceiptSid"], form["Status"], form["ErrorCode"]) == ("DY" + "9" * 32, "delivered", "0")


def test_client_identity_and_sdk_source() -> None:
    params = dict(event_params("onMessageAdded", {"message": ROWS["message"]}, account_sid="AC" + "0" * 32,
                               source="SDK", client_identity="alice", event_date=0))
    assert (params["Source"], params["ClientIdentity"]) == ("SDK", "alice")
    assert webhook_date(1_700_000_000) == "2023-11-14T22:13:20.000Z"


def test_durations_and_schedules() -> None:
    assert parse_span("250ms", "x") == 0.25
    assert parse_span("1.5", "x") == 1.5
    assert parse_span("2h", "x") == 7200
    assert parse_span("P7D", "x") == 7 * 86400
    with pytest.raises(ValueError):
        parse_span("soon", "x")
    default = WebhookSettings().retry_schedule
    assert 20 * 3600 < sum(default) < 26 * 3600  # the default schedule reaches about a day
    assert parse_schedule("0.2s, 1m") == (0.2, 60.0)


@pytest.mark.parametrize("body, matches", [
    ("help", True), ("  HELP  ", True), ("help me", True), ("helpless", False), ("I need help", False),
    ("agent please", True), ("agent", False), ("", False), (None, False)])
def test_trigger_matching(body: str | None, matches: bool) -> None:
    assert trigger_matches(("help", "agent please"), body) is matches


# -- the dispatcher with an injected transport -------------------------------------------------------------

def _prepare(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str | None = None) -> Any:
    from hubbub.actions.accounts import do_ensure_account
    from hubbub.store import migrate
    from hubbub.store.database import Database

    db = Database(url or f"sqlite:///{tmp_path / 'd.db'}", synchronous="OFF")
    migrate.upgrade(db.write_engine)
    db.run_sync_write(lambda conn: do_ensure_account(conn, "AC" + "a" * 32, TOKEN))
    return db


async def _poll(db: Any, query: Any, done: Any) -> Any:
    """`query` on a reader until `done` says its result is final, for up to 30 s (a slow, shared machine)."""
    for _ in range(1500):
        result = await db.read(query)
        if done(result):
            return result
        await asyncio.sleep(0.02)
    raise AssertionError(result)


def test_dispatcher_retries_parks_and_keeps_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from hubbub.actions.common import Scope
    from hubbub.actions.conversations import ConversationFields, do_create_conversation
    from hubbub.actions.messages import MessageFields, do_create_message
    from hubbub.actions.webhook_configuration import do_update_service_webhooks
    from hubbub.store.schema_webhooks import webhook_deliveries
    from hubbub.webhooks.dispatcher import Dispatcher

    db = _prepare(tmp_path, monkeypatch)
    seen: list[tuple[str, str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        form = dict(parse_qsl(request.content.decode()))
        seen.append((form["Body"], form["RetryCount"], request.headers["I-Twilio-Idempotency-Token"]))
        assert RequestValidator(TOKEN).validate(str(request.url), form, request.headers["X-Twilio-Signature"])
        return httpx.Response(500 if form["Body"] == "never" or (form["Body"] == "twice" and
                                                                 form["RetryCount"] == "0") else 200)

    settings = WebhookSettings(retry_schedule=(0.05, 0.05), poll_interval=0.05)
    scope = Scope("AC" + "a" * 32, None, "API", True)

    async def scenario() -> list[str]:
        db.start()
        dispatcher = Dispatcher(db, settings, httpx.MockTransport(handler))
        dispatcher.start()
        try:
            await db.write(lambda c: do_update_service_webhooks(c, scope, {
                "post_webhook_url": "https://receiver.example/hook", "webhook_filters": ["onMessageAdded"]}))
            conv = await db.write(lambda c: do_create_conversation(c, scope, ConversationFields(friendly_name="u")))
            for body in ("one", "twice", "never", "four", "five"):
                await db.write(lambda c, body=body: do_create_message(c, scope, conv["sid"], MessageFields(
                    author="a", body=body)))
            return await _poll(db, lambda c: [r.status for r in c.execute(
                webhook_deliveries.select().order_by(webhook_deliveries.c.id))],
                lambda statuses: statuses.count("pending") + statuses.count("sending") == 0)
        finally:
            await dispatcher.stop()
            db.close()

    statuses = asyncio.run(scenario())
    assert statuses == ["delivered", "delivered", "failed", "delivered", "delivered"]
    first_attempts = [body for body, retry, _ in seen if retry == "0"]
    assert first_attempts == ["one", "twice", "never", "four", "five"]  # commit order
    assert [retry for body, retry, _ in seen if body == "never"] == ["0", "1", "2"]
    assert len({token for body, _, token in seen if body == "twice"}) == 1


class _Refused(Exception):
    pass


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> Any:
    """None (a SQLite file in tmp_path), or a fresh PostgreSQL database when HUBBUB_TEST_POSTGRES_URL is set."""
    if request.param == "sqlite":
        yield None
        return
    if not os.environ.get("HUBBUB_TEST_POSTGRES_URL"):
        pytest.skip("HUBBUB_TEST_POSTGRES_URL is not set")
    from tests.conftest import scratch_database
    with scratch_database("postgresql", Path(), "hubbub_units") as url:
        yield url


def test_a_write_that_fails_in_a_batch_sends_no_webhook_and_its_neighbours_send_theirs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str | None) -> None:
    """Deliveries are recorded inside the writer's batch and handed over after its commit. A write of the
    batch that fails after recording one (its message and delivery are rolled back) must send nothing,
    while the writes batched with it send theirs, with the ids of their rows; so must later batches with
    no failure (their deliveries are taken without a query). On PostgreSQL the writes name their
    conversation, so that a shard writer batches them."""
    from hubbub.actions.common import Scope
    from hubbub.actions.conversations import ConversationFields, do_create_conversation
    from hubbub.actions.messages import MessageFields, do_create_message
    from hubbub.actions.webhook_configuration import do_update_service_webhooks
    from hubbub.store.schema_webhooks import webhook_attempts, webhook_deliveries
    from hubbub.webhooks.dispatcher import Dispatcher

    db = _prepare(tmp_path, monkeypatch, database_url)
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(dict(parse_qsl(request.content.decode()))["Body"])
        return httpx.Response(200)

    scope = Scope("AC" + "a" * 32, None, "API", True)
    db.run_sync_write(lambda c: do_update_service_webhooks(c, scope, {
        "post_webhook_url": "https://receiver.example/hook", "webhook_filters": ["onMessageAdded"]}))
    conv = db.run_sync_write(lambda c: do_create_conversation(c, scope, ConversationFields(friendly_name="u")))

    def create(body: str) -> Any:
        def write(conn: Any) -> Any:
            message = do_create_message(conn, scope, conv["sid"], MessageFields(author="a", body=body))
            if body.startswith("fails"):
                raise _Refused(body)  # after its delivery was recorded
            return message
        return write

    async def scenario() -> list[tuple[str, int, int]]:
        dispatcher = Dispatcher(db, WebhookSettings(poll_interval=0.05), httpx.MockTransport(handler))
        dispatcher.start()
        bodies = ["b1", "fails-1", "b2", "b3", "fails-2", "b4"]
        # queued before the writer starts, so that they run as one batch
        writes = [asyncio.ensure_future(db.write(create(body), key=conv["sid"])) for body in bodies]
        await asyncio.sleep(0.05)
        db.start()
        try:
            results = await asyncio.gather(*writes, return_exceptions=True)
            assert [type(r) for r in results] == [dict, _Refused, dict, dict, _Refused, dict]
            for body in ("b5", "b6", "b7"):  # batches where nothing fails
                await db.write(create(body), key=conv["sid"])
            return await _poll(db, lambda c: [(r.status, r.id, r.attempt_delivery) for r in c.execute(
                webhook_deliveries.select().add_columns(webhook_attempts.c.delivery_id.label("attempt_delivery"))
                .outerjoin(webhook_attempts, webhook_attempts.c.delivery_id == webhook_deliveries.c.id)
                .order_by(webhook_deliveries.c.id))],
                lambda rows: len(seen) >= 7 and all(status == "delivered" for status, _, _ in rows))
        finally:
            await dispatcher.stop()
            db.close()

    rows = asyncio.run(scenario())
    assert seen == ["b1", "b2", "b3", "b4", "b5", "b6", "b7"]
    assert len(rows) == 7 and all(delivery_id == attempt_of for _, delivery_id, attempt_of in rows)


def test_an_outcome_the_database_refuses_does_not_hold_back_the_others(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A delivery's row deleted while its request was in flight makes its attempt row violate the foreign
    key; the outcomes written in the same batch are still recorded."""
    import sqlite3

    from hubbub.actions.common import Scope
    from hubbub.actions.conversations import ConversationFields, do_create_conversation
    from hubbub.actions.messages import MessageFields, do_create_message
    from hubbub.actions.webhook_configuration import do_update_service_webhooks
    from hubbub.store.schema_webhooks import webhook_deliveries
    from hubbub.webhooks.dispatcher import Dispatcher

    db = _prepare(tmp_path, monkeypatch)
    scope = Scope("AC" + "a" * 32, None, "API", True)

    def handler(request: httpx.Request) -> httpx.Response:
        token = request.headers["I-Twilio-Idempotency-Token"]
        if dict(parse_qsl(request.content.decode()))["Body"] == "victim":
            with sqlite3.connect(tmp_path / "d.db") as raw:  # another hand deletes the row meanwhile
                raw.execute("DELETE FROM webhook_deliveries WHERE sid = ?", (token,))
        return httpx.Response(200)

    async def scenario() -> list[tuple[str, str]]:
        db.start()
        dispatcher = Dispatcher(db, WebhookSettings(poll_interval=0.05), httpx.MockTransport(handler))
        dispatcher.start()
        try:
            await db.write(lambda c: do_update_service_webhooks(c, scope, {
                "post_webhook_url": "https://receiver.example/hook", "webhook_filters": ["onMessageAdded"]}))
            conv = await db.write(lambda c: do_create_conversation(c, scope, ConversationFields(friendly_name="u")))
            await asyncio.gather(*(db.write(lambda c, body=body: do_create_message(
                c, scope, conv["sid"], MessageFields(author="a", body=body))) for body in ("one", "victim", "two")))
            return await _poll(db, lambda c: [(r.status, r.sid) for r in c.execute(
                webhook_deliveries.select().order_by(webhook_deliveries.c.id))],
                lambda rows: len(rows) == 2 and all(status == "delivered" for status, _ in rows))
        finally:
            await dispatcher.stop()
            db.close()

    assert len(asyncio.run(scenario())) == 2


def test_studio_target_uses_the_configured_flow_url(monkeypatch: pytest.MonkeyPatch) -> None:
    from hubbub.webhooks import targets

    monkeypatch.setattr(targets, "studio_flow_url", None)
    unsupported = targets.studio_target("AC" + "1" * 32, "WH" + "2" * 32, "FW" + "3" * 32)
    assert unsupported.url is None and unsupported.unsupported
    monkeypatch.setattr(targets, "studio_flow_url", "https://flows.example/{AccountSid}/{FlowSid}")
    target = targets.studio_target("AC" + "1" * 32, "WH" + "2" * 32, "FW" + "3" * 32)
    assert (target.url, target.method, target.target, target.unsupported) == (
        f"https://flows.example/AC{'1' * 32}/FW{'3' * 32}", "POST", "studio", None)


def test_sender_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    assert WebhookSettings().sender == "process"  # `hubbub serve` sends from a child process by default
    monkeypatch.setenv("HUBBUB_WEBHOOK_SENDER", "inline")
    monkeypatch.setenv("HUBBUB_WEBHOOK_SENDER_CPUS", "1")
    settings = WebhookSettings()
    assert (settings.sender, settings.sender_cpus) == ("inline", "1")
    for name, value in (("HUBBUB_WEBHOOK_SENDER", "thread"), ("HUBBUB_WEBHOOK_SENDER_CPUS", "second")):
        monkeypatch.setenv(name, value)
        with pytest.raises(ValueError, match=name):
            WebhookSettings()
        monkeypatch.delenv(name)


def test_delivery_sids_follow_creation_order() -> None:
    from hubbub.domain.sids import is_sid
    from hubbub.webhooks.store import delivery_sid

    sids = [delivery_sid() for _ in range(2000)]
    assert all(is_sid(sid, "WD") for sid in sids)
    assert sids == sorted(sids) and len(set(sids)) == len(sids)


def test_purge_walks_both_tables_in_windows_and_keeps_what_is_young_or_unfinished(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy import insert, select

    from hubbub.store.schema_webhooks import webhook_attempts, webhook_deliveries
    from hubbub.webhooks import store

    db = _prepare(tmp_path, monkeypatch)
    monkeypatch.setattr(store, "PURGE_BATCH", 3)  # many windows
    cutoff = 10_000
    # (created_ms, status, updated_ms): ids follow creation; a replayed old delivery is pending again
    deliveries = [(1000, "delivered", 1000), (2000, "failed", 2000), (3000, "pending", 20_000),
                  (4000, "delivered", 4000), (5000, "unsupported", 5000), (6000, "delivered", 6000),
                  (7000, "delivered", 7000), (12_000, "delivered", 12_000), (13_000, "sending", 13_000)]

    def fill(conn: Any) -> None:
        for n, (created, status, updated) in enumerate(deliveries):
            delivery_id = conn.execute(insert(webhook_deliveries).values(
                sid=f"WD{n:032x}", account_sid="AC" + "a" * 32, event_type="onMessageAdded", level="account",
                target="webhook", url="https://r.example/", method="POST", params="[]", idempotency_token="t",
                status=status, attempts=1, next_attempt_ms=0, created_ms=created, updated_ms=updated)
            ).inserted_primary_key[0]
            conn.execute(insert(webhook_attempts).values(
                delivery_id=delivery_id, account_sid="AC" + "a" * 32, kind="post", event_type="onMessageAdded",
                level="account", url="https://r.example/", method="POST", attempt=0, ok=True, latency_us=1,
                created_ms=created))

    db.run_sync_write(fill)
    db.start()

    async def purge() -> int:
        from hubbub.webhooks.dispatcher import purge_log
        return await purge_log(db, WebhookSettings(log_retention=1.0))

    monkeypatch.setattr("hubbub.domain.clock.now_ms", lambda: cutoff + 1000)
    try:
        removed = asyncio.run(purge())
        left = db.run_sync_write(lambda c: (
            [r.created_ms for r in c.execute(select(webhook_deliveries).order_by(webhook_deliveries.c.id))],
            [r.created_ms for r in c.execute(select(webhook_attempts).order_by(webhook_attempts.c.id))]))
    finally:
        db.close()
    assert left == ([3000, 12_000, 13_000], [12_000, 13_000])
    assert removed == 6 + 7


def test_deliveries_recorded_before_migration_0005_keep_their_parameters(tmp_path: Path) -> None:
    from sqlalchemy import create_engine, insert, select, text

    from hubbub.store import migrate
    from hubbub.store.schema import events
    from hubbub.store.schema_webhooks import webhook_deliveries as D
    from hubbub.webhooks import store

    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    migrate.upgrade(engine, "0002_webhooks")
    old_params = [["AccountSid", "AC" + "a" * 32], ["EventType", "onMessageAdded"], ["Body", "from before"]]
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO webhook_deliveries (sid, account_sid, event_type, level, target, url, method, params, "
            "idempotency_token, status, attempts, next_attempt_ms, created_ms, updated_ms) VALUES ('WD1', "
            "'AC', 'onMessageAdded', 'account', 'webhook', 'https://r.example/', 'POST', :params, 'WD1', "
            "'pending', 0, 0, 0, 0)"), {"params": orjson.dumps(old_params).decode()})
    migrate.upgrade(engine)
    with engine.begin() as conn:
        row = conn.execute(store.with_event().where(D.c.sid == "WD1")).mappings().one()
        assert store.shown_params(row) == [tuple(p) for p in old_params]
        claimed = store.claim(conn, me="me", limit=10, lease_ms=1000, postgres=False)
        assert [d.parameters() for d in claimed] == [[tuple(p) for p in old_params]]
        conn.execute(insert(D).values(sid="WD2", account_sid="AC", event_type="onMessageAdded", level="account",
                                      target="webhook", method="POST", idempotency_token="WD2", status="pending",
                                      attempts=0, next_attempt_ms=0, created_ms=0, updated_ms=0, event_id=12345))
        damaged = conn.execute(insert(events).values(account_sid="AC", type="onMessageAdded", payload="{not json",
                                                     date_created=0)).inserted_primary_key[0]
        conn.execute(insert(D).values(sid="WD3", account_sid="AC", event_type="onMessageAdded", level="account",
                                      target="webhook", method="POST", idempotency_token="WD3", status="pending",
                                      attempts=0, next_attempt_ms=0, created_ms=0, updated_ms=0, event_id=damaged))
        gone = store.claim(conn, me="me", limit=10, lease_ms=1000, postgres=False)
        # one event is not stored, the other cannot be read: each fails alone, when it is sent
        assert [(d.sid, d.params, d.rendering) for d in gone] == [("WD2", None, None), ("WD3", None, None)]
        with pytest.raises(LookupError):
            gone[0].parameters()
        # the delivery log shows them without parameters (and answers, rather than failing)
        shown = conn.execute(store.with_event().where(D.c.sid.in_(["WD2", "WD3"])).order_by(D.c.sid)).mappings()
        assert [store.shown_params(row) for row in shown] == [[], []]
        assert conn.execute(select(D.c.params).where(D.c.sid == "WD2")).scalar() is None
    engine.dispose()
