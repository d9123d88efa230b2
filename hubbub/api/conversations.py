"""/v1/Conversations and /v1/Services/{IS}/Conversations."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select
from starlette.responses import Response

from hubbub.actions import conversations as actions
from hubbub.actions.common import get_conversation, service_sid
from hubbub.api import representations as rep
from hubbub.api.forms import Form
from hubbub.api.http import Call, json_response
from hubbub.api.pagination import PageRequest, envelope
from hubbub.domain import clock
from hubbub.domain.conversation_state import STATES, Timers
from hubbub.errors import InvalidParameter
from hubbub.store.schema import conversations
from hubbub.webhooks import pre

MAX_ATTRIBUTES = 16 * 1024


def conversation_fields(form: Form) -> actions.ConversationFields:
    return actions.ConversationFields(
        friendly_name=form.str("FriendlyName", max_len=256),
        unique_name=form.str("UniqueName", max_len=256),
        attributes=form.json_text("Attributes", max_bytes=MAX_ATTRIBUTES),
        messaging_service_sid=form.sid("MessagingServiceSid", "MG"),
        state=form.enum("State", STATES),
        timers=Timers(form.str("Timers.Inactive", max_len=64), form.str("Timers.Closed", max_len=64)),
        email_address=form.str("Bindings.Email.Address", max_len=256),
        email_name=form.str("Bindings.Email.Name", max_len=256),
        date_created=form.datetime("DateCreated"),
        date_updated=form.datetime("DateUpdated"),
    )


async def create(call: Call) -> Response:
    fields = actions.check_create_conversation(conversation_fields(call.form))
    fields = await pre.conversation_add(call, fields)
    return await call.write(lambda conn: actions.do_create_conversation(conn, call.scope, fields),
                            lambda row: rep.conversation(call, row), 201)


async def update(call: Call) -> Response:
    fields = actions.check_update_conversation(conversation_fields(call.form))
    key = call.path["Sid"]
    fields = await pre.conversation_update(call, key, fields)
    return await call.write(lambda conn: actions.do_update_conversation(conn, call.scope, key, fields),
                            lambda row: rep.conversation(call, row))


async def remove(call: Call) -> Response:
    key = call.path["Sid"]
    await pre.conversation_remove(call, key)
    return await call.write(lambda conn: actions.do_delete_conversation(conn, call.scope, key), None)


async def fetch(call: Call) -> Response:
    key = call.path["Sid"]
    row = await call.db.read(lambda conn: get_conversation(conn, call.scope, key))
    return json_response(rep.conversation(call, row))


async def list_(call: Call) -> Response:
    page = PageRequest(call, max_size=100)
    filters: dict[str, str] = {}
    state = call.query.get("State")
    if state is not None:
        if state not in STATES:
            raise InvalidParameter(f"Invalid State: '{state[:32]}' is not one of {', '.join(STATES)}")
        filters["State"] = state
    start = _date_filter(call, "StartDate", filters)
    end = _date_filter(call, "EndDate", filters)
    if end is not None and len(filters["EndDate"]) == 10:
        end += 86399  # a bare date ends at the end of that day
    descending = start is not None or end is not None

    def query(conn: Connection) -> Any:
        service = service_sid(conn, call.scope)
        q = select(conversations).where(conversations.c.chat_service_sid == service)
        if state is not None:
            q = q.where(conversations.c.state == state)
        if start is not None:
            q = q.where(conversations.c.date_created >= start)
        if end is not None:
            q = q.where(conversations.c.date_created <= end)
        return page.fetch(conn, q, conversations.c.id, descending=descending)

    rows, has_next, has_prev = await call.db.read(query)
    return json_response(envelope(call, "conversations", page, rows, has_next, has_prev,
                                  lambda r: r["id"], lambda r: rep.conversation(call, r), filters))


def _date_filter(call: Call, name: str, filters: dict[str, str]) -> int | None:
    value = call.query.get(name)
    if value is None or value == "":
        return None
    filters[name] = value
    return clock.parse_datetime(value, name)


