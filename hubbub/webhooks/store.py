"""The delivery queue's SQL.

`record_deliveries` runs inside the writer's transaction, from `actions.common.emit`: the change, its
outbox event and its webhook deliveries commit together, so a delivery exists if and only if its change
committed. With a dispatcher in this process the rows are recorded as claimed by it (`sending`, under a
lease) and handed to it after the commit (`take_recorded`, `confirm`); otherwise they are `pending` and
a dispatcher claims them (`claim`). Each outcome is written back (`complete`): delivered, pending again
with the next retry time, or failed (parked) once the retry schedule is exhausted. `replay` puts parked
(or delivered) deliveries back in the queue; `purge` applies the log's retention.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, and_, bindparam, delete, exists, func, null, or_, select, text, update

from hubbub.domain import clock
from hubbub.domain.sids import random_hex
from hubbub.store.database import cleanly_committed, write_attempt
from hubbub.store.prepared import Prepared, insert_all
from hubbub.store.schema import conversation_webhooks, events, messages
from hubbub.store.schema_webhooks import webhook_attempts, webhook_deliveries
from hubbub.webhooks.payloads import POST_EVENTS, Params, event_params, render_params
from hubbub.webhooks.targets import Target, messaging_service_of, post_targets, studio_target, trigger_matches

D = webhook_deliveries
MISSING_EVENT = "the event of this delivery is missing or unreadable"

_INSERT_DELIVERY = insert_all(webhook_deliveries, positional=True)
_INSERT_DELIVERY_ID = insert_all(webhook_deliveries, returning_id=True)
_INSERT_ATTEMPT = insert_all(webhook_attempts, positional=True)

# Per writer thread: whether deliveries were queued for claiming (replays), and the fresh deliveries this
# process recorded as already claimed by its own dispatcher; the commit listener hands them over.
_recorded = threading.local()


@dataclass
class Owner:
    """This process's dispatcher, when it runs: fresh deliveries are recorded as claimed by it."""

    me: str | None = None
    lease_ms: int = 30_000


OWNER = Owner()


_last_sid_us = 0
_sid_lock = threading.Lock()


def delivery_sid() -> str:
    """`WD` + 32 hex digits, like every SID, but in creation order: 16 digits of a strictly increasing
    microsecond count, 16 random. A random SID lands anywhere in the unique index on `sid`, so every
    delivery dirtied (and wrote to the WAL) an index page of its own; in creation order they share the
    rightmost one."""
    global _last_sid_us
    with _sid_lock:
        _last_sid_us = max(time.time_ns() // 1000, _last_sid_us + 1)
        stamp = _last_sid_us
    return f"WD{stamp:016x}{random_hex(8)}"


def take_recorded() -> tuple[bool, list[Delivery]]:
    """(whether deliveries were queued for claiming, the fresh deliveries claimed by this process) since
    the last call on this thread; called after a commit. A fresh delivery whose write was rolled back is
    in the list too: the dispatcher keeps only those it finds in the database."""
    flag = getattr(_recorded, "flag", False)
    fresh = getattr(_recorded, "fresh", None) or []
    _recorded.flag = False
    _recorded.fresh = []
    _recorded.attempts = set()
    return flag, fresh


def webhooks_fire(source: str, webhook_enabled: bool) -> bool:
    """Chat-client, channel and timer actions always fire webhooks; REST actions only with
    `X-Twilio-Webhook-Enabled: true` (Twilio's rule against feedback loops)."""
    return webhook_enabled or source != "API"


def _service_of(data: dict[str, Any]) -> str | None:
    for key in ("message", "participant", "conversation", "user", "receipt", "delivery_receipt"):
        row = data.get(key)
        if row is not None and row.get("chat_service_sid"):
            return str(row["chat_service_sid"])
    return None


def _needs_messaging_service(event_type: str, data: dict[str, Any]) -> bool:
    if event_type == "onMessageAdded":
        return True
    return event_type == "onConversationStateUpdated" and "messaging_service_sid" not in (
        data.get("conversation") or {})


def _extra(level: str, webhook_sid: str | None, target: str) -> list[tuple[str, str]]:
    """What a conversation-scoped webhook adds to the event's parameters."""
    return [] if level != "conversation" else [("WebhookSid", webhook_sid or ""), ("WebhookType", target)]


def _rows(account_sid: str, service: str | None, conversation_sid: str | None, event_id: int | None,
          event_type: str, targets: Sequence[Target], params: Params | None, now: int,
          sqlite_connection: Any = None, rendering: list[Any] | None = None
          ) -> list[tuple[dict[str, Any], Delivery | None]]:
    """The delivery rows of one event. With a dispatcher in this process they are recorded as claimed by
    it (status `sending`, under a lease) and handed to it after the commit, sparing it a claim.

    Either `params` are given and stored with each row, or `rendering` (`[event_date,
    messaging_service_sid, payload]` of the outbox event `event_id`): then the rows store none and the
    parameters are rendered from the event when the delivery is sent (by the sender process) or shown. That
    spares the database writer, which every change of the server waits for, the rendering, the encoding and
    the bytes (about a sixth of a message create's CPU with one webhook)."""
    me = OWNER.me
    lease = wall_ms() + OWNER.lease_ms if me is not None else None
    fresh: list[Delivery] | None = None
    if me is not None:
        fresh = getattr(_recorded, "fresh", None)
        if fresh is None:
            fresh = _recorded.fresh = []
    rows = []
    messaging_service = rendering[1] if rendering is not None else None
    for target in targets:
        sid = delivery_sid()
        extra = _extra(target.level, target.webhook_sid, target.target)
        own: Params | None = None
        own_rendering: list[Any] | None = None
        if params is not None:
            own = params + extra if extra else params
        else:
            assert rendering is not None
            own_rendering = [event_type, account_sid, rendering[0], messaging_service, extra, rendering[2]]
        status = "unsupported" if target.unsupported else ("sending" if me is not None else "pending")
        row = {
            "sid": sid, "account_sid": account_sid, "chat_service_sid": service,
            "conversation_sid": conversation_sid, "event_id": event_id, "event_type": event_type,
            "level": target.level, "webhook_sid": target.webhook_sid, "target": target.target,
            "url": target.url, "method": target.method,
            "params": None if own is None else orjson.dumps(own).decode(),
            "messaging_service_sid": messaging_service,
            "idempotency_token": sid, "status": status, "attempts": 0, "next_attempt_ms": now,
            "lease_until_ms": lease if status == "sending" else None,
            "claimed_by": me if status == "sending" else None,
            "last_status_code": None, "last_error": target.unsupported, "created_ms": now, "updated_ms": now,
            "delivered_ms": None,
        }
        delivery = None
        if status == "sending" and fresh is not None:
            if sqlite_connection is not None:
                _recorded.connection = sqlite_connection
            delivery = Delivery(0, sid, account_sid, service, conversation_sid, event_type, target.level,
                                target.url or "", target.method, own, sid, 0, now, own_rendering)
            fresh.append(delivery)
            attempts = getattr(_recorded, "attempts", None)
            if attempts is None:
                attempts = _recorded.attempts = set()
            attempts.add(write_attempt())
        rows.append((row, delivery))
    return rows


def record_deliveries(conn: Connection, *, account_sid: str, event_id: int, event_type: str,
                      conversation_sid: str | None, data: dict[str, Any], event_date: int, payload: str) -> int:
    """Queue the post-action webhook deliveries of one event, in the caller's transaction. `payload` is
    the event's payload as stored (its `data` is `data`): what the parameters are rendered from."""
    if event_type not in POST_EVENTS:
        return 0
    service = _service_of(data)
    targets = post_targets(conn, account_sid, service, conversation_sid, event_type, data)
    if not targets:
        return 0
    messaging_service = None
    if conversation_sid is not None and _needs_messaging_service(event_type, data):
        messaging_service = messaging_service_of(conn, conversation_sid)
    sqlite_connection = conn.connection.driver_connection if conn.dialect.name == "sqlite" else None
    rows = _rows(account_sid, service, conversation_sid, event_id, event_type, targets, None, clock.now_ms(),
                 sqlite_connection, [event_date, messaging_service, payload])
    for row, delivery in rows:  # one at a time: each fresh delivery learns its id (see take_committed)
        if sqlite_connection is None:
            returned = _INSERT_DELIVERY_ID.fetchone(conn, row)
            if delivery is not None and returned is not None:
                delivery.id = returned[0]
            continue
        cursor = _INSERT_DELIVERY.execute(conn, row)
        if delivery is not None:
            delivery.id = cursor.lastrowid
        cursor.close()
    return len(rows)


def replay_messages(conn: Connection, webhook_sid: str) -> int:
    """`Configuration.ReplayAfter`: queue `onMessageAdded` for the messages already in the conversation
    from that index on, to the new scoped webhook only (in the transaction that creates it)."""
    hook = conn.execute(select(conversation_webhooks).where(conversation_webhooks.c.sid == webhook_sid)
                        ).mappings().first()
    if hook is None or hook["replay_after"] is None:
        return 0
    kind = hook["target"]
    if kind == "webhook" and "onMessageAdded" not in set(orjson.loads(hook["filters"])):
        return 0
    conv = hook["conversation_sid"]
    messaging_service = messaging_service_of(conn, conv)
    keywords = tuple(k.casefold() for k in orjson.loads(hook["triggers"]))
    now = clock.now_ms()
    rows: list[dict[str, Any]] = []
    for message in conn.execute(select(messages).where(messages.c.conversation_sid == conv,
                                                       messages.c.index >= hook["replay_after"])
                                .order_by(messages.c.index)).mappings():
        if kind == "trigger" and not trigger_matches(keywords, message["body"]):
            continue
        if kind == "studio":
            target = studio_target(hook["account_sid"], hook["sid"], hook["flow_sid"])
        else:
            target = Target("conversation", hook["url"], "GET" if (hook["method"] or "").lower() == "get"
                            else "POST", kind, hook["sid"])
        data = {"message": dict(message)}
        params = event_params("onMessageAdded", data, account_sid=hook["account_sid"], source="API",
                              client_identity=None, event_date=message["date_created"],
                              messaging_service_sid=messaging_service)
        rows.extend(row for row, _ in _rows(hook["account_sid"], hook["chat_service_sid"], conv, None,
                                            "onMessageAdded", [target], params, now))
    if rows:
        _INSERT_DELIVERY.executemany(conn, rows)
    return len(rows)


# -- the dispatcher's side -------------------------------------------------------------------------------

@dataclass(slots=True)
class Delivery:
    id: int
    sid: str
    account_sid: str
    chat_service_sid: str | None
    conversation_sid: str | None
    event_type: str
    level: str
    url: str
    method: str
    params: Sequence[Sequence[str]] | None  # (name, value) pairs, or None: see `rendering`
    idempotency_token: str
    attempts: int
    created_ms: int
    # `payloads.render_params`'s argument, for a delivery whose parameters are rendered from its event;
    # None with `params` None: the event is missing or unreadable
    rendering: list[Any] | None = None

    def parameters(self) -> Params:
        if self.params is not None:
            return [(name, value) for name, value in self.params]
        if self.rendering is None:
            raise LookupError(MISSING_EVENT)
        return render_params(self.rendering)


_CLAIM_COLUMNS = (D.c.id, D.c.sid, D.c.account_sid, D.c.chat_service_sid, D.c.conversation_sid, D.c.event_type,
                  D.c.level, D.c.url, D.c.method, D.c.params, D.c.idempotency_token, D.c.attempts, D.c.created_ms,
                  D.c.event_id, D.c.messaging_service_sid, D.c.webhook_sid, D.c.target)


def _claim_statement(postgres: bool) -> Prepared:
    c = D.alias("candidate")  # an alias, so the subquery is not correlated with the UPDATE's table
    now: Any = bindparam("now")
    due = and_(c.c.status == "pending", c.c.next_attempt_ms <= now)
    if postgres:
        earlier = D.alias("earlier")
        blocked = exists().where(earlier.c.conversation_sid == c.c.conversation_sid, earlier.c.url == c.c.url,
                                 earlier.c.id < c.c.id, earlier.c.attempts == 0, earlier.c.status == "sending",
                                 earlier.c.claimed_by != bindparam("me"),
                                 earlier.c.lease_until_ms >= bindparam("wall"))
        due = and_(or_(due, and_(c.c.status == "sending", c.c.lease_until_ms < bindparam("wall"))),
                   or_(c.c.attempts > 0, c.c.conversation_sid.is_(None), ~blocked))
    chosen = select(c.c.id).where(due).order_by(c.c.id).limit(bindparam("limit")).with_for_update(skip_locked=True)
    return Prepared(update(D).where(D.c.id.in_(chosen))
                    .values(status="sending", claimed_by=bindparam("me"), lease_until_ms=bindparam("lease"),
                            updated_ms=now)
                    .returning(*_CLAIM_COLUMNS))


_CLAIM = {postgres: _claim_statement(postgres) for postgres in (False, True)}
_ADVISORY_LOCK = text("SELECT pg_advisory_xact_lock(4242001)")


def claim(conn: Connection, *, me: str, limit: int, lease_ms: int, postgres: bool) -> list[Delivery]:
    """Take up to `limit` due deliveries, oldest first.

    On PostgreSQL several processes claim concurrently: claims are serialised by an advisory lock, rows
    are locked with SKIP LOCKED, a delivery whose lease ran out (its process died) is taken over, and a
    first attempt is not taken while an earlier first attempt of the same conversation and URL is in
    another process's hands, so first attempts stay in commit order per conversation.
    """
    now = clock.now_ms()
    wall = wall_ms()
    if postgres:
        conn.execute(_ADVISORY_LOCK)
    rows = _CLAIM[postgres].fetchall(conn, {"now": now, "wall": wall, "me": me, "limit": limit,
                                            "lease": wall + lease_ms})
    found = [Delivery(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8],
                      None if r[9] is None else orjson.loads(r[9]), r[10], r[11], r[12]) for r in rows]
    events_of = _events(conn, [r[13] for r in rows if r[9] is None and r[13] is not None])
    for delivery, r in zip(found, rows, strict=True):
        event = events_of.get(r[13]) if r[9] is None else None
        if event is None:
            continue
        try:  # parsed here: a damaged payload must fail its own delivery, not the sender's whole batch
            payload = orjson.loads(event[0])
        except orjson.JSONDecodeError:
            continue
        delivery.rendering = [delivery.event_type, delivery.account_sid, event[1], r[14],
                              _extra(delivery.level, r[15], r[16]), payload]
    found.sort(key=lambda d: d.id)
    return found


def _events(conn: Connection, event_ids: Sequence[int]) -> dict[int, tuple[str, int]]:
    """event id → (payload, date_created) of those outbox events."""
    found: dict[int, tuple[str, int]] = {}
    unique = sorted(set(event_ids))
    for start in range(0, len(unique), 500):
        chunk = unique[start:start + 500]
        found.update((id_, (payload, date)) for id_, payload, date in conn.execute(
            select(events.c.id, events.c.payload, events.c.date_created).where(events.c.id.in_(chunk))))
    return found


def shown_params(row: Any) -> Params:
    """A delivery's parameters for the delivery log, from a row of `with_event()`."""
    if row["params"] is not None:
        return [(name, value) for name, value in orjson.loads(row["params"])]
    if row["event_payload"] is None:
        return []
    try:
        return render_params([row["event_type"], row["account_sid"], row["event_date"],
                              row["messaging_service_sid"], _extra(row["level"], row["webhook_sid"], row["target"]),
                              row["event_payload"]])
    except (ValueError, KeyError, TypeError):  # a damaged event: the delivery fails with MISSING_EVENT when sent
        return []


def with_event() -> Any:
    """SELECT of deliveries with what `shown_params` needs of their events."""
    return (select(D, events.c.payload.label("event_payload"), events.c.date_created.label("event_date"))
            .select_from(D.outerjoin(events, events.c.id == D.c.event_id)))


# By `sid` alone, the status checked in Python: with `status = 'sending'` in the WHERE clause SQLite (which has
# no statistics here) prefers the status index for a few dozen sids and scans every delivery in flight.
_CONFIRM_SQLITE = "SELECT sid, id, status, claimed_by FROM webhook_deliveries WHERE sid IN ({})"


def take_committed(me: str) -> tuple[bool, list[Delivery], bool]:
    """After a commit, on the writer thread: (whether deliveries were queued for claiming, the fresh
    deliveries recorded since the last call, whether those are confirmed).

    When every one of them was recorded in the batch that just committed, and that batch committed all its
    writes (the common case), they are all in the database, with the ids their INSERTs returned: confirmed
    without a query. Otherwise, on SQLite, only those that committed are kept (a write that failed rolled
    back its savepoint and its rows), with their ids, found by one query on the writer's own connection,
    which sits between transactions at this point. On PostgreSQL, or if that query fails, they come back
    unconfirmed: the caller confirms them with `confirm` on a reader."""
    connection = getattr(_recorded, "connection", None)
    _recorded.connection = None
    attempts = getattr(_recorded, "attempts", None)
    queued, fresh = take_recorded()
    if not fresh:
        return queued, fresh, False
    clean = cleanly_committed()
    if clean is not None and attempts == {clean} and all(d.id for d in fresh):
        return queued, fresh, True
    if connection is None:
        return queued, fresh, False
    found: dict[str, int] = {}
    try:
        for start in range(0, len(fresh), 500):
            chunk = [d.sid for d in fresh[start:start + 500]]
            found.update((sid, id_) for sid, id_, status, owner in connection.execute(
                _CONFIRM_SQLITE.format(",".join("?" * len(chunk))), chunk) if status == "sending" and owner == me)
    except Exception:  # noqa: BLE001 - e.g. the writer replaced a broken connection: confirm on a reader
        return queued, fresh, False
    committed = []
    for delivery in fresh:
        delivery_id = found.get(delivery.sid)
        if delivery_id is not None:
            delivery.id = delivery_id
            committed.append(delivery)
    return queued, committed, True


def confirm(conn: Connection, me: str, sids: Sequence[str]) -> dict[str, int]:
    """sid → id of those fresh deliveries that committed and are still this process's to send."""
    found: dict[str, int] = {}
    for start in range(0, len(sids), 500):
        chunk = list(sids[start:start + 500])
        found.update((sid, id_) for id_, sid in conn.execute(
            select(D.c.id, D.c.sid).where(D.c.sid.in_(chunk), D.c.status == "sending", D.c.claimed_by == me)))
    return found


def release_sids(conn: Connection, me: str, sids: Sequence[str]) -> int:
    """Hand fresh deliveries back to the queue (pending), e.g. when the dispatcher has too many in hand."""
    total = 0
    for start in range(0, len(sids), 500):
        chunk = list(sids[start:start + 500])
        total += int(conn.execute(update(D).where(D.c.sid.in_(chunk), D.c.status == "sending",
                                                  D.c.claimed_by == me)
                                  .values(status="pending", claimed_by=None, lease_until_ms=None)).rowcount or 0)
    return total


def next_due_ms(conn: Connection) -> int | None:
    return conn.execute(select(func.min(D.c.next_attempt_ms)).where(D.c.status == "pending")).scalar()


def wall_ms() -> int:
    """Leases are kept on the system clock: the test clock moving forward must not expire them."""
    return int(time.time() * 1000)


def renew(conn: Connection, me: str, lease_ms: int) -> None:
    conn.execute(update(D).where(D.c.status == "sending", D.c.claimed_by == me)
                 .values(lease_until_ms=wall_ms() + lease_ms))


def release(conn: Connection, me: str | None, keep: str | None = None) -> int:
    """Claimed deliveries back to pending: this process's on shutdown, or all (None) but those of `keep`
    when a SQLite server starts (one process per SQLite file: whatever was in flight was a previous run's)."""
    where = D.c.status == "sending"
    if me is not None:
        where = where & (D.c.claimed_by == me)
    if keep is not None:
        where = where & ((D.c.claimed_by != keep) | D.c.claimed_by.is_(None))
    result = conn.execute(update(D).where(where).values(status="pending", claimed_by=None, lease_until_ms=None))
    return int(result.rowcount or 0)


@dataclass(slots=True)
class Outcome:
    delivery: Delivery
    ok: bool
    status_code: int | None
    error: str | None
    latency_us: int
    started_ms: int


_COMPLETE = Prepared(
    update(D).where(D.c.id == bindparam("d_id"), D.c.status == "sending", D.c.claimed_by == bindparam("me"))
    .values(status=bindparam("d_status"), attempts=bindparam("d_attempts"),
            next_attempt_ms=bindparam("d_next"), lease_until_ms=null(), claimed_by=null(),
            last_status_code=bindparam("d_code"), last_error=bindparam("d_error"),
            updated_ms=bindparam("d_now"), delivered_ms=bindparam("d_delivered")), positional=True)


def complete(conn: Connection, outcomes: Sequence[Outcome], *, me: str, schedule: Sequence[float]) -> None:
    """Record attempts and move each delivery on: delivered, retry later, or parked as failed."""
    now = clock.now_ms()
    updates: list[dict[str, Any]] = []
    attempts: list[dict[str, Any]] = []
    for outcome in outcomes:
        d = outcome.delivery
        done = d.attempts + 1
        if outcome.ok:
            status, next_ms, delivered = "delivered", now, now
        elif done > len(schedule):
            status, next_ms, delivered = "failed", now, None
        else:
            status, next_ms, delivered = "pending", now + int(schedule[done - 1] * 1000), None
        error = None if outcome.error is None else outcome.error[:512]
        updates.append({"d_id": d.id, "me": me, "d_status": status, "d_attempts": done, "d_next": next_ms,
                        "d_code": outcome.status_code, "d_error": error, "d_now": now,
                        "d_delivered": delivered})
        attempts.append({"delivery_id": d.id, "account_sid": d.account_sid, "chat_service_sid": d.chat_service_sid,
                         "conversation_sid": d.conversation_sid, "kind": "post", "event_type": d.event_type,
                         "level": d.level, "url": d.url, "method": d.method, "attempt": d.attempts,
                         "status_code": outcome.status_code, "ok": outcome.ok, "error": error,
                         "latency_us": outcome.latency_us, "created_ms": outcome.started_ms})
    if updates:
        _COMPLETE.executemany(conn, updates)
        _INSERT_ATTEMPT.executemany(conn, attempts)


def record_pre_attempts(conn: Connection, attempts: Sequence[dict[str, Any]]) -> None:
    if attempts:
        _INSERT_ATTEMPT.executemany(conn, [{"delivery_id": None, "kind": "pre", **a} for a in attempts])


def replay(conn: Connection, where: Any) -> int:
    """Queue the matching finished deliveries again (a fresh retry cycle, the same idempotency token)."""
    now = clock.now_ms()
    result = conn.execute(update(D).where(where, D.c.status.in_(("failed", "delivered")), D.c.url.is_not(None))
                          .values(status="pending", attempts=0, next_attempt_ms=now, lease_until_ms=None,
                                  claimed_by=None, updated_ms=now, delivered_ms=None))
    count = int(result.rowcount or 0)
    if count:
        _recorded.flag = True
    return count


PURGE_BATCH = 5000
_FINISHED = ("delivered", "failed", "unsupported")


def purge(conn: Connection, cutoff_ms: int, after: tuple[int, int] = (0, 0)) -> tuple[int, tuple[int, int] | None]:
    """Forget attempts, and finished deliveries, older than `cutoff_ms`: one window of each table, walked in
    id order (ids follow creation time), from the ids in `after`. Returns (rows removed, where the next call
    starts, or None when both tables are done). No index on the times is needed: the walk stops at the
    first row created after the cutoff."""
    removed = 0
    positions: list[int] = []
    for table, time_column, deletable in (
            (webhook_attempts, webhook_attempts.c.created_ms, None),
            (D, D.c.created_ms, and_(D.c.status.in_(_FINISHED), D.c.updated_ms < cutoff_ms)),
    ):
        start = after[len(positions)]
        if start < 0:  # this table is done
            positions.append(-1)
            continue
        window = conn.execute(select(table.c.id, time_column).where(table.c.id > start)
                              .order_by(table.c.id).limit(PURGE_BATCH)).all()
        old = [id_ for id_, created in window if created < cutoff_ms]
        if old:
            where = table.c.id.in_(old) if deletable is None else and_(table.c.id.in_(old), deletable)
            removed += int(conn.execute(delete(table).where(where)).rowcount or 0)
        reached_new = len(old) < len(window) or len(window) < PURGE_BATCH
        positions.append(-1 if reached_new else window[-1][0])
    return removed, None if all(p < 0 for p in positions) else (positions[0], positions[1])
