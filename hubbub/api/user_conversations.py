"""/v1/Users/{UserSid}/Conversations and the service-scoped copy."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection
from starlette.responses import Response
from starlette.routing import Route

from hubbub import errors
from hubbub.actions import user_conversations as actions
from hubbub.actions.users import get_user
from hubbub.api.forms import Form
from hubbub.api.http import Call, json_response
from hubbub.api.pagination import PageRequest, envelope
from hubbub.api.routing import service_scoped
from hubbub.domain.clock import iso
from hubbub.errors import InvalidParameter
from hubbub.store.schema import participants

MAX_PAGE = 50
MAX_INDEX = (1 << 63) - 1  # a BIGINT


def timers(row: Any) -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    if row["date_inactive"] is not None:
        found["date_inactive"] = iso(row["date_inactive"])
    if row["date_closed"] is not None:
        found["date_closed"] = iso(row["date_closed"])
    return found


def user_conversation(call: Call, user_sid: str, row: Any) -> dict[str, Any]:
    conversation_url = f"{call.prefix}/Conversations/{row['conversation_sid']}"
    horizon = row["last_read_message_index"]
    return {
        "account_sid": row["account_sid"],
        "chat_service_sid": row["chat_service_sid"],
        "conversation_sid": row["conversation_sid"],
        "unread_messages_count": None if horizon is None else row["unread_messages_count"],
        "last_read_message_index": horizon,
        "participant_sid": row["participant_sid"],
        "user_sid": user_sid,
        "friendly_name": row["friendly_name"],
        "conversation_state": row["state"],
        "timers": timers(row),
        "attributes": row["attributes"],
        "date_created": iso(row["date_created"]),
        "date_updated": iso(row["date_updated"]),
        "created_by": row["created_by"],
        "notification_level": row["notification_level"] or "default",
        "unique_name": row["unique_name"],
        "url": f"{call.prefix}/Users/{user_sid}/Conversations/{row['conversation_sid']}",
        "links": {
            "participant": f"{conversation_url}/Participants/{row['participant_sid']}",
            "conversation": conversation_url,
        },
    }


def _coded(code: int, getter: Any, *args: Any, **kwargs: Any) -> Any:
    """Run a form getter, answering its 400 with a specific Twilio code."""
    try:
        return getter(*args, **kwargs)
    except InvalidParameter as exc:
        raise InvalidParameter(exc.message, code=code) from None


def user_conversation_fields(form: Form) -> actions.UserConversationFields:
    return actions.UserConversationFields(
        notification_level=_coded(errors.INVALID_NOTIFICATION_LEVEL, form.enum, "NotificationLevel",
                                  actions.NOTIFICATION_LEVELS),
        last_read_message_index=_coded(errors.INVALID_LAST_READ_INDEX, form.integer, "LastReadMessageIndex",
                                       minimum=0, maximum=MAX_INDEX),
        last_read_timestamp=form.datetime("LastReadTimestamp"),
    )


async def update(call: Call) -> Response:
    fields = user_conversation_fields(call.form)
    user_key, conv = call.path["UserSid"], call.path["ConversationSid"]
    return await call.write(
        lambda conn: actions.do_update_user_conversation(conn, call.scope, user_key, conv, fields),
        lambda result: user_conversation(call, result[0]["sid"], result[1]))


async def remove(call: Call) -> Response:
    user_key, conv = call.path["UserSid"], call.path["ConversationSid"]
    return await call.write(
        lambda conn: actions.do_delete_user_conversation(conn, call.scope, user_key, conv), None)


async def fetch(call: Call) -> Response:
    user_key, conv = call.path["UserSid"], call.path["ConversationSid"]
    found, row = await call.db.read(
        lambda conn: actions.get_user_conversation(conn, call.scope, user_key, conv))
    return json_response(user_conversation(call, found["sid"], row))


async def list_(call: Call) -> Response:
    page = PageRequest(call, max_size=MAX_PAGE)
    user_key = call.path["UserSid"]

    def query(conn: Connection) -> Any:
        found = get_user(conn, call.scope, user_key)
        return found, page.fetch(conn, actions.user_conversations_select(found), participants.c.id)

    found, (rows, has_next, has_prev) = await call.db.read(query)
    return json_response(envelope(call, "conversations", page, rows, has_next, has_prev,
                                  lambda r: r["id"], lambda r: user_conversation(call, found["sid"], r)))


routes: list[Route] = [
    *service_scoped("/Users/{UserSid}/Conversations", GET=list_),
    *service_scoped("/Users/{UserSid}/Conversations/{ConversationSid}", GET=fetch, POST=update,
                    DELETE=remove),
]
