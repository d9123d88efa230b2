"""/Conversations/{ConversationSid}/Participants."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select
from starlette.responses import Response

from hubbub.actions import participants as actions
from hubbub.actions.common import get_conversation
from hubbub.api import representations as rep
from hubbub.api.forms import Form
from hubbub.api.http import Call, json_response
from hubbub.api.pagination import PageRequest, envelope
from hubbub.errors import BINDING_INVALID, InvalidParameter
from hubbub.store.schema import participants
from hubbub.webhooks import pre

MAX_ATTRIBUTES = 4 * 1024
MAX_ADDRESS = 256


def _address(form: Form, name: str) -> str | None:
    """A messaging-binding address; one that is too long is an invalid binding (50407), like Twilio."""
    value = form.str(name)
    if value is not None and len(value) > MAX_ADDRESS:
        raise InvalidParameter(f"Invalid {name}: longer than {MAX_ADDRESS} characters", code=BINDING_INVALID)
    return value


def _binding_value(form: Form, name: str) -> str | None:
    value = _address(form, name)
    return actions.UNSET if value == "null" else value


def participant_fields(form: Form, *, update: bool) -> actions.ParticipantFields:
    return actions.ParticipantFields(
        identity=form.str("Identity", max_len=256, allow_empty=False),
        address=None if update else _address(form, "MessagingBinding.Address"),
        proxy_address=_binding_value(form, "MessagingBinding.ProxyAddress") if update
        else _address(form, "MessagingBinding.ProxyAddress"),
        projected_address=_binding_value(form, "MessagingBinding.ProjectedAddress") if update
        else _address(form, "MessagingBinding.ProjectedAddress"),
        attributes=form.json_text("Attributes", max_bytes=MAX_ATTRIBUTES),
        role_sid=form.sid("RoleSid", "RL"),
        last_read_message_index=form.integer("LastReadMessageIndex", minimum=0) if update else None,
        last_read_timestamp=form.str("LastReadTimestamp", max_len=64) if update else None,
        date_created=form.datetime("DateCreated"),
        date_updated=form.datetime("DateUpdated"),
    )


async def create(call: Call) -> Response:
    fields = participant_fields(call.form, update=False)
    binding = actions.check_create_participant(fields)
    conv = call.path["ConversationSid"]
    await pre.participant_add(call, conv, fields, binding)
    return await call.write(lambda conn: actions.do_create_participant(conn, call.scope, conv, fields, binding),
                            lambda row: rep.participant(call, row), 201)


async def update(call: Call) -> Response:
    fields = participant_fields(call.form, update=True)
    conv, key = call.path["ConversationSid"], call.path["Sid"]
    await pre.participant_update(call, conv, key, fields)
    return await call.write(lambda conn: actions.do_update_participant(conn, call.scope, conv, key, fields),
                            lambda row: rep.participant(call, row))


async def remove(call: Call) -> Response:
    conv, key = call.path["ConversationSid"], call.path["Sid"]
    await pre.participant_remove(call, conv, key)
    return await call.write(lambda conn: actions.do_delete_participant(conn, call.scope, conv, key), None)


async def fetch(call: Call) -> Response:
    conv, key = call.path["ConversationSid"], call.path["Sid"]

    def query(conn: Connection) -> Any:
        conversation = get_conversation(conn, call.scope, conv)
        return actions.get_participant(conn, conversation["sid"], key)

    return json_response(rep.participant(call, await call.db.read(query)))


async def list_(call: Call) -> Response:
    page = PageRequest(call, max_size=100)
    conv = call.path["ConversationSid"]

    def query(conn: Connection) -> Any:
        conversation = get_conversation(conn, call.scope, conv)
        q = select(participants).where(participants.c.conversation_sid == conversation["sid"])
        return page.fetch(conn, q, participants.c.id)

    rows, has_next, has_prev = await call.db.read(query)
    return json_response(envelope(call, "participants", page, rows, has_next, has_prev,
                                  lambda r: r["id"], lambda r: rep.participant(call, r)))
