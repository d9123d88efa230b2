"""/v1/ConversationWithParticipants and /v1/Services/{IS}/ConversationWithParticipants.

The conversation parameters are CreateConversation's; each repeated `Participant` is a JSON object with the
Participant resource's fields in snake case, e.g. `{"identity": "alice"}` or
`{"messaging_binding": {"address": "+15558675310", "proxy_address": "+15017122661"}}` (the flat keys
`messaging_binding.address`, `messaging_binding.proxy_address`, `messaging_binding.projected_address`
work too).
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response
from starlette.routing import Route

from hubbub.actions import conversation_with_participants as actions
from hubbub.actions.participants import ParticipantFields
from hubbub.api import representations as rep
from hubbub.api.conversations import conversation_fields
from hubbub.api.http import Call
from hubbub.api.participants import MAX_ADDRESS, MAX_ATTRIBUTES
from hubbub.api.routing import service_scoped
from hubbub.domain import clock
from hubbub.domain.sids import is_sid
from hubbub.errors import BINDING_INVALID, InvalidParameter

MAX_PARTICIPANT_JSON = 16 * 1024  # characters of one `Participant` value
_BINDING_KEYS = ("address", "proxy_address", "projected_address")
_KEYS = frozenset({"identity", "attributes", "role_sid", "messaging_binding", "date_created", "date_updated",
                   *(f"messaging_binding.{key}" for key in _BINDING_KEYS)})


def _string(value: Any, where: str, key: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidParameter(f"Invalid {where}: '{key}' must be a string")
    if "\x00" in value:
        raise InvalidParameter(f"Invalid {where}: '{key}' contains a NUL character")
    return value


def _address(value: Any, where: str, key: str) -> str | None:
    text = _string(value, where, key)
    if text is not None and len(text) > MAX_ADDRESS:
        raise InvalidParameter(f"Invalid {where}: '{key}' is longer than {MAX_ADDRESS} characters",
                               code=BINDING_INVALID)
    return text


def _attributes(value: Any, where: str) -> str | None:
    """`attributes` as a JSON string (like the `Attributes` form field) or as a JSON object itself."""
    if value is None:
        return None
    if isinstance(value, str):
        text = _string(value, where, "attributes") or ""
        try:
            orjson.loads(text)
        except orjson.JSONDecodeError:
            raise InvalidParameter(f"Invalid {where}: 'attributes' must be valid JSON", code=50006) from None
    else:
        text = orjson.dumps(value).decode()
    if len(text.encode("utf-8", "surrogatepass")) > MAX_ATTRIBUTES:
        raise InvalidParameter(f"Invalid {where}: 'attributes' is larger than {MAX_ATTRIBUTES} bytes",
                               code=50006)
    return text


def participant_from_json(text: str, number: int) -> ParticipantFields:
    """One `Participant` value → the fields CreateConversationParticipant would take."""
    where = f"Participant {number}"
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise InvalidParameter(f"Invalid {where}: not a JSON object") from None
    if not isinstance(data, dict):
        raise InvalidParameter(f"Invalid {where}: not a JSON object")
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise InvalidParameter(f"Invalid {where}: unknown field '{unknown[0][:64]}'")
    binding: dict[str, Any] = {}
    nested = data.get("messaging_binding")
    if nested is not None:
        if not isinstance(nested, dict):
            raise InvalidParameter(f"Invalid {where}: 'messaging_binding' must be a JSON object")
        extra = sorted(set(nested) - set(_BINDING_KEYS))
        if extra:
            raise InvalidParameter(f"Invalid {where}: unknown field 'messaging_binding.{extra[0][:64]}'")
        binding.update(nested)
    for key in _BINDING_KEYS:
        flat = data.get(f"messaging_binding.{key}")
        if flat is not None:
            if binding.get(key) is not None and binding[key] != flat:
                raise InvalidParameter(f"Invalid {where}: 'messaging_binding.{key}' is given twice")
            binding[key] = flat
    identity = _string(data.get("identity"), where, "identity")
    if identity is not None and not identity:
        raise InvalidParameter(f"Invalid {where}: 'identity' must not be empty")
    if identity is not None and len(identity) > 256:
        raise InvalidParameter(f"Invalid {where}: 'identity' is longer than 256 characters")
    role_sid = _string(data.get("role_sid"), where, "role_sid")
    if role_sid is not None and not is_sid(role_sid, "RL"):
        raise InvalidParameter(f"Invalid {where}: 'role_sid' is not a valid RL SID")
    dates = {}
    for key in ("date_created", "date_updated"):
        value = _string(data.get(key), where, key)
        if value is not None and len(value) > 64:
            raise InvalidParameter(f"Invalid {where}: '{key}' is not an ISO 8601 date-time")
        dates[key] = None if value is None else clock.parse_datetime(value, f"{where} {key}")
    return ParticipantFields(
        identity=identity,
        address=_address(binding.get("address"), where, "messaging_binding.address"),
        proxy_address=_address(binding.get("proxy_address"), where, "messaging_binding.proxy_address"),
        projected_address=_address(binding.get("projected_address"), where,
                                   "messaging_binding.projected_address"),
        attributes=_attributes(data.get("attributes"), where),
        role_sid=role_sid,
        date_created=dates["date_created"],
        date_updated=dates["date_updated"],
    )


def render(call: Call, row: Any) -> dict[str, Any]:
    """The Conversation shape; like Twilio's, its `links` have no `export`."""
    body = rep.conversation(call, row)
    body["links"].pop("export", None)
    return body


async def create(call: Call) -> Response:
    fields = conversation_fields(call.form)
    values = call.form.list("Participant", max_items=1000, max_len=MAX_PARTICIPANT_JSON) or []
    actions.check_participant_count(len(values))
    participants = [participant_from_json(value, number) for number, value in enumerate(values, 1)]
    checked = actions.check_create_conversation_with_participants(fields, participants)
    return await call.write(
        lambda conn: actions.do_create_conversation_with_participants(conn, call.scope, fields, checked),
        lambda row: render(call, row), 201)


routes: list[Route] = [
    *service_scoped("/ConversationWithParticipants", POST=create),
]
