"""The SMS channel's writes (run by hubbub/channels/sms/worker.py inside `Database.write`):

- `do_enqueue_from_outbox`: read `onMessageAdded` events after the durable cursor and queue one SMS per
  receipt of an SMS participant (or fail the receipt: blocked 21610, no SMPP connection for the number
  21606, empty body 21602, too long 21617), advancing the cursor in the same transaction;
- `do_apply_results`: record what the SMSC answered (parts accepted, final failures, expiry) and the
  delivery receipts it sent, updating the conversation receipts and emitting `onDeliveryUpdated`;
- `do_receive`: an inbound part: drop the SMSC's redelivery of a PDU already stored (its acknowledgement
  was in doubt), reassemble, handle opt-out keywords, route to the conversation that binds the number
  pair, else auto-create one through the number's address configuration, else log it as unrouted.

The deliver_sm of an inbound SMS or receipt is acknowledged to the SMSC only after the transaction that
stored it committed (hubbub/channels/sms/smpp.py, "Why a relay"); receipts that arrive before the part they
refer to is recorded are kept in `sms_receipt_backlog`.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import Connection, bindparam, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from hubbub.actions.common import Scope, emit
from hubbub.actions.conversation_webhooks import WebhookFields, do_create_webhook
from hubbub.actions.conversations import ConversationFields, do_create_conversation
from hubbub.actions.messages import MessageFields, do_create_message
from hubbub.actions.participants import Binding, ParticipantFields, do_create_participant
from hubbub.channels.sms.config import SmsConfig
from hubbub.channels.sms.pdus import RECEIPT_STATUS, InboundPart, decode_text, message_id_variants
from hubbub.domain import clock
from hubbub.domain.addresses import parse_address
from hubbub.domain.sids import new_sid
from hubbub.domain.sms_encoding import segments_for
from hubbub.errors import TwilioError
from hubbub.store.prepared import Prepared, insert_all
from hubbub.store.schema import accounts, address_configurations, conversations, events, participants, receipts
from hubbub.store.schema_sms import (
    sms_cursor,
    sms_inbound_parts,
    sms_inbound_seen,
    sms_opt_outs,
    sms_outbound,
    sms_receipt_backlog,
    sms_submits,
    sms_unrouted,
)

log = logging.getLogger("hubbub.sms")

OUTBOX_CURSOR = "outbox"
MAX_BODY_CHARS = 1600  # Twilio's outbound SMS limit
UNMATCHED_RECEIPT_TTL = 120  # seconds a receipt may wait for the submit_sm_resp it refers to be recorded
REDELIVERY_GRACE = 600  # seconds a new bind gives the SMSC to redeliver what an earlier bind left in doubt
GAP_WAIT = 5  # seconds an id gap in the outbox may stay open (PostgreSQL: a transaction not yet committed)

# Twilio error codes set on receipts.
BLOCKED = 21610  # the recipient replied STOP
NOT_SMS_CAPABLE = 21606  # no SMPP connection serves the proxy number
BODY_REQUIRED = 21602
BODY_TOO_LONG = 21617
QUEUE_EXPIRED = 30001  # not sent within the validity period
SMSC_REJECTED = 30008
INVALID_TO = 21211
SMSC_ERRORS = {0x0B: INVALID_TO, 0x0A: NOT_SMS_CAPABLE, 0x45: SMSC_REJECTED}

_INSERT_OUTBOUND = insert_all(sms_outbound)
_INSERT_SUBMIT = insert_all(sms_submits)
_SET_OUTBOUND = Prepared(update(sms_outbound).where(sms_outbound.c.id == bindparam("row_id")).values(
    state=bindparam("state"), error_code=bindparam("error_code"), date_updated=bindparam("now")))
_MARK_SENT_OUTBOUND = Prepared(update(sms_outbound).where(
    sms_outbound.c.id == bindparam("row_id"), sms_outbound.c.state == "queued").values(
    state="sent", date_updated=bindparam("now")))
_MARK_SENT_RECEIPT = Prepared(update(receipts).where(
    receipts.c.sid == bindparam("receipt_sid"), receipts.c.status.is_(None)).values(
    status="sent", date_updated=bindparam("now")))
_SET_RECEIPT = Prepared(update(receipts).where(receipts.c.sid == bindparam("receipt_sid")).values(
    status=bindparam("status"), error_code=bindparam("error_code"), date_updated=bindparam("now")))


def _scope(account_sid: str, service_sid: str | None) -> Scope:
    return Scope(account_sid, service_sid, source="SMS", webhook_enabled=True)


# -- outbox → queue ----------------------------------------------------------------------------------------
@dataclass
class Enqueued:
    events: int = 0
    queued: int = 0
    connections: set[str] = field(default_factory=set)
    more: bool = False  # the batch was full, or stopped at a gap: call again
    gap: bool = False


def _outbox_position(conn: Connection) -> int | None:
    return conn.execute(select(sms_cursor.c.position).where(sms_cursor.c.name == OUTBOX_CURSOR)).scalar()


def outbox_pending(conn: Connection, position: int | None) -> bool:
    """Whether events after `position` exist (a read, so that idle polling writes nothing)."""
    if position is None:
        position = _outbox_position(conn)
        if position is None:
            return True
    return conn.execute(select(events.c.id).where(events.c.id > position).limit(1)).first() is not None


def do_enqueue_from_outbox(conn: Connection, config: SmsConfig, limit: int = 1000) -> tuple[Enqueued, int]:
    """Queue the SMS of new messages; returns what was done and the new cursor position."""
    result = Enqueued()
    position = _outbox_position(conn)
    if position is None:  # first start: only messages posted from now on are sent
        position = conn.execute(select(func.coalesce(func.max(events.c.id), 0))).scalar_one()
        conn.execute(insert(sms_cursor).values(name=OUTBOX_CURSOR, position=position))
        return result, int(position)
    rows = conn.execute(select(events.c.id, events.c.type, events.c.payload, events.c.date_created)
                        .where(events.c.id > position).order_by(events.c.id).limit(limit)).all()
    strict_order = conn.dialect.name != "sqlite"  # SQLite's single writer commits ids in order
    now = clock.now()
    messages: list[dict[str, Any]] = []
    new_position = position
    for row in rows:
        if strict_order and row.id != new_position + 1 and now - row.date_created < GAP_WAIT:
            result.gap = True  # an earlier id may still commit: wait for it (or for the gap to age)
            break
        new_position = row.id
        result.events += 1
        if row.type == "onMessageAdded":
            message = (orjson.loads(row.payload).get("data") or {}).get("message")
            if isinstance(message, dict) and message.get("sid"):
                messages.append(message)
    result.more = len(rows) == limit or result.gap
    if messages:
        _enqueue_messages(conn, config, messages, result, now)
    if new_position != position:
        conn.execute(update(sms_cursor).where(sms_cursor.c.name == OUTBOX_CURSOR).values(position=new_position))
    return result, int(new_position)


def _enqueue_messages(conn: Connection, config: SmsConfig, messages: list[dict[str, Any]], result: Enqueued,
                      now: int) -> None:
    by_sid = {m["sid"]: m for m in messages}
    targets = conn.execute(
        select(receipts.c.sid, receipts.c.message_sid, receipts.c.participant_sid, participants.c.address,
               participants.c.proxy_address)
        .join(participants, participants.c.sid == receipts.c.participant_sid)
        .where(receipts.c.message_sid.in_(list(by_sid)), receipts.c.status.is_(None),
               participants.c.binding_type == "sms", participants.c.proxy_address.is_not(None))
        .order_by(receipts.c.id)).all()
    if not targets:
        return
    blocked = _blocked_pairs(conn, {(t.proxy_address, t.address) for t in targets})
    rows: list[dict[str, Any]] = []
    failures: list[tuple[dict[str, Any], int]] = []
    part_counts: dict[tuple[str, bool], int] = {}  # segments of a message's body, the same for each participant
    for target in targets:
        message = by_sid[target.message_sid]
        body = message.get("body") or ""
        connection = config.connection_for(target.proxy_address)
        channel_sid = new_sid("SM")
        receipt = {"receipt_sid": target.sid, "account_sid": message["account_sid"],
                   "chat_service_sid": message["chat_service_sid"], "conversation_sid": message["conversation_sid"],
                   "channel_message_sid": channel_sid}
        error = 0
        if connection is None:
            error = NOT_SMS_CAPABLE
        elif (target.proxy_address, target.address) in blocked:
            error = BLOCKED
        elif not body:
            error = BODY_REQUIRED
        elif len(body) > MAX_BODY_CHARS:
            error = BODY_TOO_LONG
        if error:
            failures.append((receipt, error))
            continue
        assert connection is not None
        smart = config.smart_encoding_for(message["chat_service_sid"])
        part_count = part_counts.get((target.message_sid, smart))
        if part_count is None:
            part_count = part_counts[target.message_sid, smart] = segments_for(body, smart).segments
        rows.append(dict(
            sid=channel_sid, account_sid=message["account_sid"], connection=connection.name,
            sender=target.proxy_address, destination=target.address, kind="message",
            chat_service_sid=message["chat_service_sid"], conversation_sid=message["conversation_sid"],
            message_sid=target.message_sid, receipt_sid=target.sid, participant_sid=target.participant_sid,
            body=body, smart_encoding=smart, concat_ref=secrets.randbelow(256),
            part_count=part_count, state="queued", error_code=0,
            expires_at=now + config.expiry, date_created=now, date_updated=now))
        result.connections.add(connection.name)
    if rows:
        _INSERT_OUTBOUND.executemany(conn, rows)
        conn.execute(update(receipts).where(receipts.c.sid == bindparam("receipt_sid_"))
                     .values(channel_message_sid=bindparam("channel_sid_")),
                     [{"receipt_sid_": r["receipt_sid"], "channel_sid_": r["sid"]} for r in rows])
        result.queued += len(rows)
    if failures:
        _fail_receipts(conn, failures, now)


def _blocked_pairs(conn: Connection, pairs: set[tuple[str, str]]) -> set[tuple[str, str]]:
    if not pairs:
        return set()
    addresses = list({address for _, address in pairs})
    found = conn.execute(select(sms_opt_outs.c.sender, sms_opt_outs.c.address)
                         .where(sms_opt_outs.c.address.in_(addresses))).all()
    return {(r.sender, r.address) for r in found} & pairs


def _fail_receipts(conn: Connection, failures: list[tuple[dict[str, Any], int]], now: int) -> None:
    conn.execute(update(receipts).where(receipts.c.sid == bindparam("receipt_sid_")).values(
        status="failed", error_code=bindparam("error_code_"), channel_message_sid=bindparam("channel_sid_"),
        date_updated=now), [{"receipt_sid_": r["receipt_sid"], "error_code_": code,
                             "channel_sid_": r["channel_message_sid"]} for r, code in failures])
    _emit_receipts(conn, [r for r, _ in failures])


def _emit_receipts(conn: Connection, changed: Iterable[dict[str, Any]]) -> None:
    """`onDeliveryUpdated` for each changed receipt, with the receipt as it now is."""
    changed = [c for c in changed if c.get("receipt_sid")]
    if not changed:
        return
    rows = {r["sid"]: dict(r) for r in conn.execute(
        select(receipts).where(receipts.c.sid.in_([c["receipt_sid"] for c in changed]))).mappings()}
    for c in changed:
        row = rows.get(c["receipt_sid"])
        if row is not None:  # the message may have been deleted meanwhile
            emit(conn, _scope(row["account_sid"], row["chat_service_sid"]), "onDeliveryUpdated",
                 row["conversation_sid"], {"receipt": row})


# -- queue rows for the dispatcher -----------------------------------------------------------------------
_QUEUED = Prepared(
    select(sms_outbound, sms_opt_outs.c.id.label("blocked"))
    .outerjoin(sms_opt_outs, (sms_opt_outs.c.sender == sms_outbound.c.sender)
               & (sms_opt_outs.c.address == sms_outbound.c.destination))
    .where(sms_outbound.c.connection == bindparam("connection"), sms_outbound.c.state == "queued",
           sms_outbound.c.id > bindparam("after_id"))
    .order_by(sms_outbound.c.id).limit(bindparam("limit")))


def queued_rows(conn: Connection, connection: str, after_id: int, limit: int) -> list[dict[str, Any]]:
    """Queued SMS of a connection after `after_id`, with the parts already accepted and the block flag
    (`smart_encoding` may come back as 0 / 1)."""
    cursor = _QUEUED.execute(conn, {"connection": connection, "after_id": after_id, "limit": limit})
    try:
        keys = [d[0] for d in cursor.description]
        rows = [dict(zip(keys, r, strict=True)) for r in cursor.fetchall()]
    finally:
        cursor.close()
    multi = [r["id"] for r in rows if r["part_count"] > 1]
    done: dict[int, set[int]] = {}
    if multi:
        for outbound_id, seq in conn.execute(select(sms_submits.c.outbound_id, sms_submits.c.seq)
                                             .where(sms_submits.c.outbound_id.in_(multi))):
            done.setdefault(outbound_id, set()).add(seq)
    for r in rows:
        r["parts_done"] = done.get(r["id"], set())
    return rows


def do_expire(conn: Connection, connection: str, now: int) -> int:
    """Fail the queued SMS of a connection whose validity period has passed (also while it is down)."""
    rows = [dict(r) for r in conn.execute(select(sms_outbound).where(
        sms_outbound.c.connection == connection, sms_outbound.c.state == "queued",
        sms_outbound.c.expires_at <= now).limit(1000)).mappings()]
    if rows:
        do_apply_results(conn, [SendFailed(row, "expired", QUEUE_EXPIRED) for row in rows])
    return len(rows)


# -- results from the SMSC -----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PartsAccepted:
    """Parts the SMSC accepted; `complete` once every part of the SMS is in."""

    row: dict[str, Any]
    parts: tuple[tuple[int, str], ...]  # (seq, SMSC message id)
    complete: bool


@dataclass(frozen=True, slots=True)
class SendFailed:
    row: dict[str, Any]
    state: str  # "failed" | "expired"
    error_code: int


@dataclass(frozen=True, slots=True)
class ReceiptReport:
    connection: str
    message_id: str
    stat: str
    err: str | None
    delivery: Any = field(default=None, compare=False)  # the deliver_sm to acknowledge once this is stored


Result = PartsAccepted | SendFailed | ReceiptReport


def do_apply_results(conn: Connection, results: list[Result], retry_backlog: bool = False) -> int | None:
    """Record a batch of results: the SMSC's answers first (in order), then the delivery receipts, so that a
    receipt finds a part accepted in the same batch. A receipt whose part is not recorded (yet) is kept in
    the backlog; with `retry_backlog` the backlog is tried again (and receipts older than two minutes are
    dropped). Returns how many receipts wait in the backlog, or None when it was not looked at."""
    now = clock.now()
    submits: list[dict[str, Any]] = []
    sent_rows: list[dict[str, Any]] = []
    sent_receipts: list[dict[str, Any]] = []
    outbound_updates: list[dict[str, Any]] = []
    receipt_updates: list[dict[str, Any]] = []
    reports: list[ReceiptReport] = []
    changed: list[dict[str, Any]] = []

    for result in results:
        if isinstance(result, PartsAccepted):
            row = result.row
            for seq, message_id in result.parts:
                submits.append(dict(outbound_id=row["id"], seq=seq, connection=row["connection"],
                                    smsc_message_id=message_id, dlr_state=None, error_code=0, date_created=now))
            if result.complete:
                sent_rows.append({"row_id": row["id"], "now": now})
                if row.get("receipt_sid"):
                    sent_receipts.append({"receipt_sid": row["receipt_sid"], "now": now})
                    changed.append(row)
        elif isinstance(result, SendFailed):
            row = result.row
            outbound_updates.append({"row_id": row["id"], "state": result.state, "error_code": result.error_code,
                                     "now": now})
            if row.get("receipt_sid"):
                receipt_updates.append({"receipt_sid": row["receipt_sid"], "status": "failed",
                                        "error_code": result.error_code, "now": now})
                changed.append(row)
        else:
            reports.append(result)
    for statement, params in ((_INSERT_SUBMIT, submits), (_MARK_SENT_OUTBOUND, sent_rows),
                              (_MARK_SENT_RECEIPT, sent_receipts), (_SET_OUTBOUND, outbound_updates),
                              (_SET_RECEIPT, receipt_updates)):
        if params:
            statement.executemany(conn, params)
    early: list[dict[str, Any]] = []
    for report in reports:
        applied = _apply_receipt(conn, report, now)
        if applied is None:
            early.append(dict(connection=report.connection, message_id=report.message_id[:65],
                              stat=report.stat[:16], err=(report.err or None) and report.err[:16], date_created=now))
        elif applied.get("receipt_sid"):
            changed.append(applied)
    if early:
        conn.execute(insert(sms_receipt_backlog), early)
    waiting: int | None = None
    if retry_backlog:
        waiting = 0
        settled: list[int] = []
        for entry in conn.execute(select(sms_receipt_backlog).order_by(sms_receipt_backlog.c.id)
                                  .limit(1000)).mappings().all():
            report = ReceiptReport(entry["connection"], entry["message_id"], entry["stat"], entry["err"])
            applied = _apply_receipt(conn, report, now)
            if applied is None and now - entry["date_created"] <= UNMATCHED_RECEIPT_TTL:
                waiting += 1
                continue
            settled.append(entry["id"])
            if applied is None:
                log.warning("SMS %s: delivery receipt for unknown message id %s (%s)", report.connection,
                            report.message_id, report.stat)
            elif applied.get("receipt_sid"):
                changed.append(applied)
        if settled:
            conn.execute(delete(sms_receipt_backlog).where(sms_receipt_backlog.c.id.in_(settled)))
    elif early:
        waiting = len(early)
    _emit_receipts(conn, changed)
    return waiting


# A delivery receipt's statements, compiled once: one receipt comes for each SMS sent.
_SUBMIT_BY_SMSC_ID = Prepared(select(sms_submits.c.id, sms_submits.c.outbound_id).where(
    sms_submits.c.connection == bindparam("connection"), sms_submits.c.smsc_message_id == bindparam("message_id"))
    .order_by(sms_submits.c.id.desc()).limit(1))
_SET_PART_STATE = Prepared(update(sms_submits).where(sms_submits.c.id == bindparam("submit_id")).values(
    dlr_state=bindparam("dlr_state_"), error_code=bindparam("error_code_")))
_OUTBOUND_ROW = Prepared(select(sms_outbound.c.id, sms_outbound.c.state, sms_outbound.c.part_count,
                                sms_outbound.c.receipt_sid).where(sms_outbound.c.id == bindparam("outbound_id")))
_PART_STATES = Prepared(select(sms_submits.c.seq, sms_submits.c.dlr_state).where(
    sms_submits.c.outbound_id == bindparam("outbound_id")))


def _apply_receipt(conn: Connection, report: ReceiptReport, now: int) -> dict[str, Any] | None:
    """Mark the part's state; when the SMS's outcome is decided, update its row and receipt."""
    submit = None
    for message_id in message_id_variants(report.message_id):
        submit = _SUBMIT_BY_SMSC_ID.fetchone(conn, {"connection": report.connection, "message_id": message_id})
        if submit is not None:
            break
    if submit is None:
        return None
    submit_id, outbound_id = submit
    status, error = RECEIPT_STATUS.get(report.stat, (None, 0))
    if status is None:  # ENROUTE / ACCEPTD: not final, nothing to show
        return {}
    _SET_PART_STATE.run(conn, {"submit_id": submit_id, "dlr_state_": report.stat, "error_code_": error})
    found = _OUTBOUND_ROW.fetchone(conn, {"outbound_id": outbound_id})
    if found is None:
        return {}
    row = dict(zip(("id", "state", "part_count", "receipt_sid"), found, strict=True))
    parts = _PART_STATES.fetchall(conn, {"outbound_id": outbound_id})
    delivered = {seq for seq, dlr_state in parts if dlr_state == "DELIVRD"}
    if status == "delivered":
        if len(delivered) < row["part_count"]:
            return {}  # delivered only once every part is
        new_state, new_error = "delivered", 0
    else:
        new_state, new_error = status, error
    if row["state"] == new_state:
        return {}
    _SET_OUTBOUND.run(conn, {"row_id": row["id"], "state": new_state, "error_code": new_error, "now": now})
    if row["receipt_sid"]:
        _SET_RECEIPT.run(conn, {"receipt_sid": row["receipt_sid"], "status": new_state, "error_code": new_error,
                                "now": now})
    return row


# -- inbound -------------------------------------------------------------------------------------------------
@dataclass
class Received:
    """What happened to an inbound SMS (None while parts are missing)."""

    outcome: str  # "partial" | "routed" | "created" | "unrouted" | "duplicate"
    conversation_sid: str | None = None
    message_sid: str | None = None
    keyword: str | None = None
    replies: int = 0
    connections: set[str] = field(default_factory=set)
    seen_id: int | None = None  # the sms_inbound_seen row to settle once the SMSC has read our answer


def do_receive(conn: Connection, config: SmsConfig, connection: str, part: InboundPart, *,
               fingerprint: str | None = None, session: str = "", settle: Iterable[int] = ()) -> Received:
    """Store an inbound part. With `fingerprint` (of the deliver_sm) and `session` (the bind it came on): the
    same PDU already stored from another bind, its acknowledgement still in doubt, is the SMSC's redelivery
    and changes nothing. `settle`: in-doubt rows whose acknowledgement the SMSC has since read."""
    settle = list(settle)
    if settle:
        conn.execute(delete(sms_inbound_seen).where(sms_inbound_seen.c.id.in_(settle)))
    seen_id: int | None = None
    if fingerprint is not None:
        earlier = conn.execute(select(sms_inbound_seen.c.id, sms_inbound_seen.c.session).where(
            sms_inbound_seen.c.connection == connection, sms_inbound_seen.c.fingerprint == fingerprint)
            .order_by(sms_inbound_seen.c.id.desc()).limit(1)).first()
        if earlier is not None and earlier.session != session:
            # stored before, answered on a bind that ended before the SMSC confirmed reading the answer
            conn.execute(update(sms_inbound_seen).where(sms_inbound_seen.c.id == earlier.id).values(session=session))
            log.warning("SMS %s: the SMSC delivered a stored SMS from %s again (it had not read our answer); "
                        "not stored twice", connection, part.source)
            return Received("duplicate", seen_id=earlier.id)
        seen_id = conn.execute(insert(sms_inbound_seen).values(
            connection=connection, fingerprint=fingerprint, session=session, date_created=clock.now())
            .returning(sms_inbound_seen.c.id)).scalar_one()
    received = _receive(conn, config, connection, part)
    received.seen_id = seen_id
    return received


def do_settle_inbound(conn: Connection, settle: list[int]) -> None:
    """Forget in-doubt inbound rows whose acknowledgement the SMSC has read."""
    conn.execute(delete(sms_inbound_seen).where(sms_inbound_seen.c.id.in_(settle)))


def purge_inbound_seen(conn: Connection, connection: str, session: str, bound_since: int, now: int) -> int:
    """A bind that has lasted REDELIVERY_GRACE seconds: the SMSC has redelivered what it was going to; rows
    left in doubt by earlier binds are forgotten (and any row after a day)."""
    stale = sms_inbound_seen.c.date_created < now - 86400
    if now - bound_since > REDELIVERY_GRACE:
        stale = stale | ((sms_inbound_seen.c.session != session) & (sms_inbound_seen.c.date_created < bound_since))
    result = conn.execute(delete(sms_inbound_seen).where(sms_inbound_seen.c.connection == connection, stale))
    return int(result.rowcount or 0)


def _receive(conn: Connection, config: SmsConfig, connection: str, part: InboundPart) -> Received:
    if part.ref is None:
        body = decode_text(part.payload, part.data_coding)
    else:
        assembled = _store_part(conn, connection, part)
        if assembled is None:
            return Received("partial")
        body = assembled
    return _route(conn, config, connection, part.source, part.destination, body)


def _store_part(conn: Connection, connection: str, part: InboundPart) -> str | None:
    """Keep a part; when the last one is in, the whole text (and the parts are forgotten)."""
    key = ((sms_inbound_parts.c.connection == connection) & (sms_inbound_parts.c.source == part.source)
           & (sms_inbound_parts.c.destination == part.destination) & (sms_inbound_parts.c.ref == part.ref))
    try:
        with conn.begin_nested():
            conn.execute(insert(sms_inbound_parts).values(
                connection=connection, source=part.source, destination=part.destination, ref=part.ref,
                total=part.total, seq=part.seq, data_coding=part.data_coding, payload=part.payload.hex(),
                date_created=clock.now()))
    except IntegrityError:  # the SMSC re-sent a part we have
        pass
    parts = conn.execute(select(sms_inbound_parts.c.seq, sms_inbound_parts.c.data_coding,
                                sms_inbound_parts.c.payload, sms_inbound_parts.c.total)
                         .where(key).order_by(sms_inbound_parts.c.seq)).all()
    if len({p.seq for p in parts}) < part.total:
        return None
    conn.execute(delete(sms_inbound_parts).where(key))
    codings = {p.data_coding for p in parts}
    if len(codings) == 1:  # decode the joined bytes: a surrogate pair or escape may straddle two parts
        return decode_text(b"".join(bytes.fromhex(p.payload) for p in parts), codings.pop())
    return "".join(decode_text(bytes.fromhex(p.payload), p.data_coding) for p in parts)


def purge_stale_parts(conn: Connection, older_than: int) -> int:
    result = conn.execute(delete(sms_inbound_parts).where(sms_inbound_parts.c.date_created < older_than))
    return int(result.rowcount or 0)


def _route(conn: Connection, config: SmsConfig, connection: str, source: str, destination: str,
           body: str) -> Received:
    received = Received("unrouted")
    keyword = config.opt_out.classify(body)
    if keyword is not None:
        received.keyword, reply = keyword
        _handle_keyword(conn, config, connection, source, destination, received, reply)
    account_sids = [sid for (sid,) in conn.execute(select(accounts.c.sid).order_by(accounts.c.date_created))]
    bound = conn.execute(
        select(participants.c.conversation_sid, participants.c.account_sid, conversations.c.chat_service_sid)
        .join(conversations, conversations.c.sid == participants.c.conversation_sid)
        .where(participants.c.account_sid.in_(account_sids), participants.c.address == source,
               participants.c.proxy_address == destination, participants.c.binding_type == "sms",
               conversations.c.state.in_(("active", "inactive", "initializing")))
        .order_by(participants.c.id.desc()).limit(1)).first()
    if bound is not None:
        message = do_create_message(conn, _scope(bound.account_sid, bound.chat_service_sid),
                                    bound.conversation_sid, MessageFields(author=source, body=body))
        received.outcome, received.conversation_sid, received.message_sid = (
            "routed", bound.conversation_sid, message["sid"])
        return received
    settings = conn.execute(select(address_configurations).where(
        address_configurations.c.address == destination, address_configurations.c.type == "sms",
        address_configurations.c.account_sid.in_(account_sids))
        .order_by(address_configurations.c.id)).mappings().first()
    reason = "no conversation binds the number pair and no address configuration auto-creates one"
    if settings is not None:
        auto = orjson.loads(settings["auto_creation"])
        if auto.get("enabled"):
            try:
                with conn.begin_nested():
                    conv_sid, message_sid = _auto_create(conn, settings["account_sid"], auto, source, destination,
                                                         body)
                received.outcome, received.conversation_sid, received.message_sid = "created", conv_sid, message_sid
                return received
            except TwilioError as exc:
                reason = f"auto-creation failed: {exc.message}"[:64]
        else:
            reason = "the address configuration has auto-creation disabled"
    account = _owner(conn, config, destination, settings, account_sids)
    if account is not None:
        conn.execute(insert(sms_unrouted).values(
            sid=new_sid("SM"), account_sid=account, source=source, destination=destination, body=body,
            segments=segments_for(body, False).segments, reason=reason[:64], date_created=clock.now()))
    log.info("unrouted inbound SMS from %s to %s: %s", source, destination, reason)
    return received


def _owner(conn: Connection, config: SmsConfig, destination: str, settings: Any, account_sids: list[str]
           ) -> str | None:
    connection = config.connection_for(destination)
    if connection is not None and connection.account_sid in account_sids:
        return connection.account_sid
    if settings is not None:
        return str(settings["account_sid"])
    return account_sids[0] if account_sids else None


def _auto_create(conn: Connection, account_sid: str, auto: dict[str, Any], source: str, destination: str,
                 body: str) -> tuple[str, str]:
    scope = _scope(account_sid, auto.get("conversation_service_sid"))
    address = parse_address(source, "From").value
    conversation = do_create_conversation(conn, scope, ConversationFields())
    conv_sid = conversation["sid"]
    do_create_participant(conn, scope, conv_sid, ParticipantFields(address=address, proxy_address=destination),
                          Binding("sms", address, destination, None))
    if auto.get("type") == "webhook" and auto.get("webhook_url"):
        do_create_webhook(conn, scope, conv_sid, WebhookFields(
            target="webhook", url=auto["webhook_url"], method=(auto.get("webhook_method") or "POST").lower(),
            filters=list(auto.get("webhook_filters") or [])))
    message = do_create_message(conn, scope, conv_sid, MessageFields(author=address, body=body))
    return conv_sid, message["sid"]


def _handle_keyword(conn: Connection, config: SmsConfig, connection: str, source: str, destination: str,
                    received: Received, reply: str | None) -> None:
    pair = (sms_opt_outs.c.sender == destination) & (sms_opt_outs.c.address == source)
    blocked = conn.execute(select(sms_opt_outs.c.id).where(pair)).first() is not None
    send_reply = True
    if received.keyword == "stop":
        if blocked:
            send_reply = False  # replied once already
        else:
            conn.execute(insert(sms_opt_outs).values(sender=destination, address=source,
                                                     keyword=(received.keyword or "")[:32],
                                                     date_created=clock.now()))
    elif received.keyword == "start":
        if blocked:
            conn.execute(delete(sms_opt_outs).where(pair))
    if send_reply and reply:
        target = config.connection_for(destination)
        name = target.name if target is not None else connection
        smart = config.smart_encoding
        now = clock.now()
        _INSERT_OUTBOUND.run(conn, dict(
            sid=new_sid("SM"), account_sid="", connection=name, sender=destination, destination=source,
            kind="reply", chat_service_sid=None, conversation_sid=None, message_sid=None, receipt_sid=None,
            participant_sid=None, body=reply, smart_encoding=smart, concat_ref=secrets.randbelow(256),
            part_count=segments_for(reply, smart).segments, state="queued", error_code=0,
            expires_at=now + config.expiry, date_created=now, date_updated=now))
        received.replies += 1
        received.connections.add(name)
