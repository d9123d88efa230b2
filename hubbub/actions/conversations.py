"""Conversations: create, update, delete; state changes and timers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, RowMapping, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from hubbub import errors
from hubbub.actions.common import Scope, emit, get_conversation, service_sid
from hubbub.domain import clock
from hubbub.domain.conversation_state import Timers, check_timer, due_times
from hubbub.domain.sids import new_sid
from hubbub.errors import Conflict, InvalidParameter
from hubbub.store.schema import configurations, conversations, participants


@dataclass(frozen=True)
class ConversationFields:
    """The writable fields of a conversation; None means 'not given'."""

    friendly_name: str | None = None
    unique_name: str | None = None
    attributes: str | None = None
    messaging_service_sid: str | None = None
    state: str | None = None
    timers: Timers = Timers()
    email_address: str | None = None
    email_name: str | None = None
    date_created: int | None = None
    date_updated: int | None = None


def check_create_conversation(fields: ConversationFields) -> ConversationFields:
    if fields.state == "closed" or fields.state == "initializing":
        raise InvalidParameter("State on create must be 'active' or 'inactive'", code=errors.INVALID_CREATE_STATE)
    check_timer(fields.timers.inactive, "inactive")
    check_timer(fields.timers.closed, "closed")
    return fields


def check_update_conversation(fields: ConversationFields) -> ConversationFields:
    if fields.state == "initializing":
        raise InvalidParameter("State can only be changed to 'active', 'inactive' or 'closed'")
    check_timer(fields.timers.inactive, "inactive")
    check_timer(fields.timers.closed, "closed")
    return fields


def _bindings(fields: ConversationFields, current: dict[str, Any] | None = None) -> dict[str, Any]:
    bindings = dict(current or {})
    if fields.email_address is not None or fields.email_name is not None:
        email = dict(bindings.get("email") or {})
        if fields.email_address is not None:
            email["projected_address"] = fields.email_address
        if fields.email_name is not None:
            email["name"] = fields.email_name
        bindings["email"] = email
    return bindings


def _unique_name_taken(name: str) -> Conflict:
    return Conflict(f"Conversation with unique name '{name}' already exists", code=errors.UNIQUE_NAME_TAKEN)


def do_create_conversation(conn: Connection, scope: Scope, fields: ConversationFields) -> RowMapping:
    service = service_sid(conn, scope)
    now = clock.now()
    if fields.unique_name is not None and conn.execute(
            select(conversations.c.id).where(conversations.c.chat_service_sid == service,
                                             conversations.c.unique_name == fields.unique_name)).first():
        raise _unique_name_taken(fields.unique_name)
    timers = fields.timers
    if timers.inactive is None and timers.closed is None:
        defaults = conn.execute(select(configurations.c.default_inactive_timer,
                                       configurations.c.default_closed_timer)
                                .where(configurations.c.account_sid == scope.account_sid)).first()
        if defaults is not None:
            timers = Timers(defaults.default_inactive_timer, defaults.default_closed_timer)
    state = fields.state or "active"
    created = fields.date_created or now
    date_inactive, date_closed = due_times(state, timers, now)
    sid = new_sid("CH")
    values = dict(
        sid=sid, account_sid=scope.account_sid, chat_service_sid=service,
        messaging_service_sid=fields.messaging_service_sid, friendly_name=fields.friendly_name,
        unique_name=fields.unique_name, attributes=fields.attributes or "{}", state=state,
        timer_inactive=timers.inactive, timer_closed=timers.closed, date_inactive=date_inactive,
        date_closed=date_closed, bindings=orjson.dumps(_bindings(fields)).decode(), next_message_index=0,
        participants_count=0, non_chat_count=0, date_created=created,
        date_updated=fields.date_updated or created,
    )
    try:
        conn.execute(insert(conversations).values(**values))
    except IntegrityError:
        raise _unique_name_taken(fields.unique_name or "") from None
    row = conn.execute(select(conversations).where(conversations.c.sid == sid)).mappings().one()
    emit(conn, scope, "onConversationAdded", sid, {"conversation": dict(row)})
    return row


def do_update_conversation(conn: Connection, scope: Scope, key: str, fields: ConversationFields) -> RowMapping:
    current = get_conversation(conn, scope, key)
    if current["state"] == "closed":
        raise InvalidParameter("Conversation state is 'closed' so it can't be used for chatting anymore",
                               code=errors.CONVERSATION_CLOSED)
    now = clock.now()
    changes: dict[str, Any] = {}
    for name in ("friendly_name", "attributes", "messaging_service_sid", "date_created"):
        value = getattr(fields, name)
        if value is not None:
            changes[name] = value
    if fields.unique_name is not None and fields.unique_name != current["unique_name"]:
        if conn.execute(select(conversations.c.id).where(
                conversations.c.chat_service_sid == current["chat_service_sid"],
                conversations.c.unique_name == fields.unique_name)).first():
            raise _unique_name_taken(fields.unique_name)
        changes["unique_name"] = fields.unique_name
    if fields.email_address is not None or fields.email_name is not None:
        changes["bindings"] = orjson.dumps(_bindings(fields, orjson.loads(current["bindings"]))).decode()
    state = fields.state or current["state"]
    timers = Timers(
        fields.timers.inactive if fields.timers.inactive is not None else current["timer_inactive"],
        fields.timers.closed if fields.timers.closed is not None else current["timer_closed"],
    )
    if fields.state is not None or fields.timers != Timers():
        changes["state"] = state
        changes["timer_inactive"], changes["timer_closed"] = timers.inactive, timers.closed
        changes["date_inactive"], changes["date_closed"] = due_times(state, timers, now)
    changes["date_updated"] = fields.date_updated or now
    conn.execute(update(conversations).where(conversations.c.sid == current["sid"]).values(**changes))
    row = conn.execute(select(conversations).where(conversations.c.sid == current["sid"])).mappings().one()
    emit(conn, scope, "onConversationUpdated", row["sid"], {"conversation": dict(row)})
    if state != current["state"]:
        emit(conn, scope, "onConversationStateUpdated", row["sid"],
             {"conversation": dict(row), "state_from": current["state"], "state_to": state, "reason": "API"})
    return row


def do_delete_conversation(conn: Connection, scope: Scope, key: str) -> None:
    current = get_conversation(conn, scope, key)
    # emitted first, while the conversation's scoped webhooks still exist to receive it; the chat
    # identities of its participants (deleted with it, without participant events) let a real-time client
    # that was away learn of the removal when it resumes (realtime/hub.py)
    identities = list(conn.execute(select(participants.c.identity).where(
        participants.c.conversation_sid == current["sid"], participants.c.identity.is_not(None))).scalars())
    emit(conn, scope, "onConversationRemoved", current["sid"],
         {"conversation": dict(current), "participant_identities": identities})
    conn.execute(delete(conversations).where(conversations.c.sid == current["sid"]))


def reactivate_if_inactive(conn: Connection, scope: Scope, conversation: Mapping[str, Any] | RowMapping) -> None:
    """A new message or participant moves an inactive conversation back to active."""
    if conversation["state"] != "inactive":
        return
    now = clock.now()
    timers = Timers(conversation["timer_inactive"], conversation["timer_closed"])
    date_inactive, date_closed = due_times("active", timers, now)
    conn.execute(update(conversations).where(conversations.c.sid == conversation["sid"]).values(
        state="active", date_inactive=date_inactive, date_closed=date_closed, date_updated=now))
    row = dict(conversation) | {"state": "active", "date_inactive": date_inactive,
                                "date_closed": date_closed, "date_updated": now}
    emit(conn, scope, "onConversationStateUpdated", conversation["sid"],
         {"conversation": row, "state_from": "inactive", "state_to": "active", "reason": "EVENT"})
