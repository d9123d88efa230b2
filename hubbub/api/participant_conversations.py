"""/v1/ParticipantConversations and the service-scoped copy: every conversation of the service that a
person takes part in, found by chat `Identity` or by messaging-binding `Address`, across channels."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, and_, select
from starlette.responses import Response
from starlette.routing import Route

from hubbub import errors
from hubbub.actions.common import service_sid
from hubbub.actions.user_conversations import CONVERSATION_COLUMNS
from hubbub.api.http import Call, json_response
from hubbub.api.pagination import PageRequest, envelope
from hubbub.api.routing import service_scoped
from hubbub.api.user_conversations import timers
from hubbub.domain.addresses import parse_address
from hubbub.domain.clock import iso
from hubbub.errors import InvalidParameter
from hubbub.store.schema import conversations, participants, users

MAX_PAGE = 50
MAX_LOOKUP = 256


def messaging_binding(row: Any) -> dict[str, Any] | None:
    """The shape of Twilio's examples: every key present, null where unset."""
    if row["binding_type"] is None:
        return None
    return {"type": row["binding_type"], "address": row["address"], "proxy_address": row["proxy_address"],
            "projected_address": row["projected_address"], "level": None, "name": None}


def participant_conversation(call: Call, row: Any) -> dict[str, Any]:
    conversation_url = f"{call.prefix}/Conversations/{row['conversation_sid']}"
    return {
        "account_sid": row["account_sid"],
        "chat_service_sid": row["chat_service_sid"],
        "participant_sid": row["participant_sid"],
        "participant_user_sid": row["user_sid"],
        "participant_identity": row["identity"],
        "participant_messaging_binding": messaging_binding(row),
        "conversation_sid": row["conversation_sid"],
        "conversation_unique_name": row["unique_name"],
        "conversation_friendly_name": row["friendly_name"],
        "conversation_attributes": row["attributes"],
        "conversation_date_created": iso(row["date_created"]),
        "conversation_date_updated": iso(row["date_updated"]),
        "conversation_created_by": row["created_by"],
        "conversation_state": row["state"],
        "conversation_timers": timers(row),
        "links": {
            "participant": f"{conversation_url}/Participants/{row['participant_sid']}",
            "conversation": conversation_url,
        },
    }


def _lookup(call: Call) -> tuple[str, str]:
    """Which filter the request uses: exactly one of `Identity` and `Address`."""
    given = {name: call.query.get(name) for name in ("Identity", "Address")}
    given = {name: value for name, value in given.items() if value}
    if len(given) == 2:
        raise InvalidParameter("Only one of Identity and Address may be given",
                               code=errors.ONE_LOOKUP_PARAMETER)
    if not given:
        raise InvalidParameter("Missing required parameter Identity or Address")
    name, value = next(iter(given.items()))
    if len(value) > MAX_LOOKUP or "\x00" in value:
        raise InvalidParameter(f"Invalid {name}: longer than {MAX_LOOKUP} characters or not text")
    return name, value


def _stored_address(value: str) -> str:
    """An address as participants store it (`WhatsApp:+1…` → `whatsapp:+1…`) when it is a phone address."""
    try:
        return parse_address(value, "Address").value
    except InvalidParameter:
        return value


async def list_(call: Call) -> Response:
    name, value = _lookup(call)
    page = PageRequest(call, max_size=MAX_PAGE)
    column = participants.c.identity if name == "Identity" else participants.c.address
    match = value if name == "Identity" else _stored_address(value)

    def query(conn: Connection) -> Any:
        service = service_sid(conn, call.scope)
        q = (select(participants.c.id, participants.c.sid.label("participant_sid"), participants.c.identity,
                    participants.c.binding_type, participants.c.address, participants.c.proxy_address,
                    participants.c.projected_address, users.c.sid.label("user_sid"),
                    conversations.c.sid.label("conversation_sid"),
                    *[conversations.c[col] for col in CONVERSATION_COLUMNS])
             .select_from(participants
                          .join(conversations, conversations.c.sid == participants.c.conversation_sid)
                          .outerjoin(users, and_(users.c.chat_service_sid == participants.c.chat_service_sid,
                                                 users.c.identity == participants.c.identity)))
             .where(participants.c.account_sid == call.scope.account_sid,  # leads the address index
                    participants.c.chat_service_sid == service, column == match))
        return page.fetch(conn, q, participants.c.id)

    rows, has_next, has_prev = await call.db.read(query)
    return json_response(envelope(call, "conversations", page, rows, has_next, has_prev,
                                  lambda r: r["id"], lambda r: participant_conversation(call, r),
                                  {name: value}))


routes: list[Route] = [*service_scoped("/ParticipantConversations", GET=list_)]
