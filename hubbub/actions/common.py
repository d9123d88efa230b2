"""Pieces every action shares: the account/service scope, lookups that 404, and the outbox."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, RowMapping, bindparam, insert, or_, select

from hubbub.domain import clock
from hubbub.errors import NotFound
from hubbub.store.prepared import Prepared, insert_all
from hubbub.store.schema import configurations, conversations, events, services
from hubbub.webhooks import store as webhook_deliveries


@dataclass(frozen=True, slots=True)
class Scope:
    """Who is asking and in which Conversation Service (None: the account's default service)."""

    account_sid: str
    service_sid: str | None = None
    source: str = "API"
    webhook_enabled: bool = False
    client_identity: str | None = None


def not_found(path: str) -> NotFound:
    return NotFound(f"The requested resource {path} was not found")


def service_sid(conn: Connection, scope: Scope) -> str:
    if scope.service_sid is None:
        sid = conn.execute(
            select(configurations.c.default_chat_service_sid).where(
                configurations.c.account_sid == scope.account_sid)
        ).scalar_one_or_none()
        if sid is None:
            raise not_found("/Configuration")
        return sid
    found = conn.execute(
        select(services.c.sid).where(services.c.sid == scope.service_sid,
                                     services.c.account_sid == scope.account_sid)
    ).scalar_one_or_none()
    if found is None:
        raise not_found(f"/Services/{scope.service_sid}")
    return found


def default_service_of(account_sid: Any) -> Any:
    """Scalar subquery: the default Conversation Service of an account."""
    return select(configurations.c.default_chat_service_sid).where(
        configurations.c.account_sid == account_sid).scalar_subquery()


def conversation_filter(scope: Scope, key: str) -> Any:
    """WHERE clause for a conversation addressed by SID or unique name within the scope (a unique name
    may look like a SID, so both are tried; `get_conversation` prefers the SID)."""
    clause = or_(conversations.c.sid == key, conversations.c.unique_name == key)
    clause = clause & (conversations.c.account_sid == scope.account_sid)
    if scope.service_sid is not None:
        clause = clause & (conversations.c.chat_service_sid == scope.service_sid)
    else:
        clause = clause & (conversations.c.chat_service_sid == default_service_of(scope.account_sid))
    return clause


def get_conversation(conn: Connection, scope: Scope, key: str) -> RowMapping:
    rows = conn.execute(select(conversations).where(conversation_filter(scope, key)).limit(2)).mappings().all()
    if not rows:
        raise not_found(f"/Conversations/{key}")
    return next((row for row in rows if row["sid"] == key), rows[0])


_INSERT_EVENT = insert_all(events)
_INSERT_EVENT_ID = Prepared(insert(events).values({c.name: bindparam(c.name) for c in events.c if c.name != "id"})
                            .returning(events.c.id))


def emit(conn: Connection, scope: Scope, event_type: str, conversation_sid: str | None,
         data: dict[str, Any]) -> None:
    """Record an event in the outbox, and the webhook deliveries it causes, in the caller's transaction."""
    payload = {"source": scope.source, "webhook_enabled": scope.webhook_enabled,
               "client_identity": scope.client_identity, "data": data}
    created = clock.now()
    encoded = orjson.dumps(payload, option=orjson.OPT_NON_STR_KEYS).decode()
    row = {"account_sid": scope.account_sid, "conversation_sid": conversation_sid, "type": event_type,
           "payload": encoded, "date_created": created}
    if not webhook_deliveries.webhooks_fire(scope.source, scope.webhook_enabled):
        _INSERT_EVENT.run(conn, row)
        return
    if conn.dialect.name == "sqlite":
        cursor = _INSERT_EVENT.execute(conn, row)
        event_id = cursor.lastrowid
        cursor.close()
    else:
        event_id = _INSERT_EVENT_ID.fetchone(conn, row)[0]  # type: ignore[index]
    webhook_deliveries.record_deliveries(
        conn, account_sid=scope.account_sid, event_id=event_id, event_type=event_type,
        conversation_sid=conversation_sid, data=data, event_date=created, payload=encoded)
