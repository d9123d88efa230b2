"""/v1/Users and /v1/Services/{IS}/Users."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select
from starlette.responses import Response
from starlette.routing import Route

from hubbub.actions import users as actions
from hubbub.actions.common import service_sid
from hubbub.api.forms import Form
from hubbub.api.http import Call, json_response
from hubbub.api.pagination import PageRequest, envelope
from hubbub.api.routing import service_scoped
from hubbub.domain.clock import iso
from hubbub.store.schema import users
from hubbub.webhooks import pre

MAX_IDENTITY = 256
MAX_FRIENDLY_NAME = 256
MAX_ATTRIBUTES = 16 * 1024
MAX_PAGE = 50


def user(call: Call, row: Any, *, listed: bool = False) -> dict[str, Any]:
    """`is_online` / `is_notifiable` are only reported on single reads, as Twilio does (null in lists)."""
    url = f"{call.prefix}/Users/{row['sid']}"
    return {
        "sid": row["sid"],
        "account_sid": row["account_sid"],
        "chat_service_sid": row["chat_service_sid"],
        "role_sid": row["role_sid"],
        "identity": row["identity"],
        "friendly_name": row["friendly_name"],
        "attributes": row["attributes"],
        "is_online": None if listed else row["is_online"],
        "is_notifiable": None if listed else row["is_notifiable"],
        "date_created": iso(row["date_created"]),
        "date_updated": iso(row["date_updated"]),
        "url": url,
        "links": {"user_conversations": f"{url}/Conversations"},
    }


def user_fields(form: Form, *, update: bool) -> actions.UserFields:
    return actions.UserFields(
        identity=None if update else form.str("Identity", max_len=MAX_IDENTITY, required=True,
                                              allow_empty=False),
        friendly_name=form.str("FriendlyName", max_len=MAX_FRIENDLY_NAME),
        attributes=form.json_text("Attributes", max_bytes=MAX_ATTRIBUTES),
        role_sid=form.sid("RoleSid", "RL"),
    )


async def create(call: Call) -> Response:
    fields = actions.check_create_user(user_fields(call.form, update=False))
    return await call.write(lambda conn: actions.do_create_user(conn, call.scope, fields),
                            lambda row: user(call, row), 201)


async def update(call: Call) -> Response:
    fields = user_fields(call.form, update=True)
    key = call.path["Sid"]
    await pre.user_update(call, key, fields)
    return await call.write(lambda conn: actions.do_update_user(conn, call.scope, key, fields),
                            lambda row: user(call, row))


async def remove(call: Call) -> Response:
    key = call.path["Sid"]
    return await call.write(lambda conn: actions.do_delete_user(conn, call.scope, key), None)


async def fetch(call: Call) -> Response:
    key = call.path["Sid"]
    row = await call.db.read(lambda conn: actions.get_user(conn, call.scope, key))
    return json_response(user(call, row))


async def list_(call: Call) -> Response:
    page = PageRequest(call, max_size=MAX_PAGE)

    def query(conn: Connection) -> Any:
        service = service_sid(conn, call.scope)
        return page.fetch(conn, select(users).where(users.c.chat_service_sid == service), users.c.id)

    rows, has_next, has_prev = await call.db.read(query)
    return json_response(envelope(call, "users", page, rows, has_next, has_prev,
                                  lambda r: r["id"], lambda r: user(call, r, listed=True)))


routes: list[Route] = [
    *service_scoped("/Users", GET=list_, POST=create),
    *service_scoped("/Users/{Sid}", GET=fetch, POST=update, DELETE=remove),
]
