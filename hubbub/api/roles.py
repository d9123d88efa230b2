"""/v1/Roles and /v1/Services/{IS}/Roles."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Connection, select
from starlette.responses import Response
from starlette.routing import Route

from hubbub.actions import roles as actions
from hubbub.actions.common import service_sid
from hubbub.api.forms import Form
from hubbub.api.http import Call, json_response
from hubbub.api.pagination import PageRequest, envelope
from hubbub.api.routing import service_scoped
from hubbub.domain.clock import iso
from hubbub.errors import InvalidParameter
from hubbub.store.schema import roles

MAX_FRIENDLY_NAME = 64
MAX_PAGE = 50


def role(call: Call, row: Any) -> dict[str, Any]:
    return {
        "sid": row["sid"],
        "account_sid": row["account_sid"],
        "chat_service_sid": row["chat_service_sid"],
        "friendly_name": row["friendly_name"],
        "type": row["type"],
        "permissions": orjson.loads(row["permissions"]),
        "date_created": iso(row["date_created"]),
        "date_updated": iso(row["date_updated"]),
        "url": f"{call.prefix}/Roles/{row['sid']}",
    }


def _permissions(form: Form) -> list[str]:
    """The repeated `Permission` parameter, required on create and on update."""
    values = form.list("Permission", max_items=64, max_len=64)
    if not values:
        raise InvalidParameter("Missing required parameter Permission in the post body")
    return values


async def create(call: Call) -> Response:
    form = call.form
    friendly_name = form.str("FriendlyName", max_len=MAX_FRIENDLY_NAME, required=True, allow_empty=False)
    role_type = form.str("Type", required=True)
    permissions = _permissions(form)
    fields = actions.check_create_role(friendly_name or "", role_type or "", permissions)
    return await call.write(lambda conn: actions.do_create_role(conn, call.scope, fields),
                            lambda row: role(call, row), 201)


async def update(call: Call) -> Response:
    permissions = _permissions(call.form)
    key = call.path["Sid"]
    return await call.write(lambda conn: actions.do_update_role(conn, call.scope, key, permissions),
                            lambda row: role(call, row))


async def remove(call: Call) -> Response:
    key = call.path["Sid"]
    return await call.write(lambda conn: actions.do_delete_role(conn, call.scope, key), None)


async def fetch(call: Call) -> Response:
    key = call.path["Sid"]
    row = await call.db.read(lambda conn: actions.get_role(conn, call.scope, key))
    return json_response(role(call, row))


async def list_(call: Call) -> Response:
    page = PageRequest(call, max_size=MAX_PAGE)

    def query(conn: Connection) -> Any:
        service = service_sid(conn, call.scope)
        q = select(roles).where(roles.c.chat_service_sid == service,
                                roles.c.account_sid == call.scope.account_sid)
        return page.fetch(conn, q, roles.c.id)

    rows, has_next, has_prev = await call.db.read(query)
    return json_response(envelope(call, "roles", page, rows, has_next, has_prev,
                                  lambda r: r["id"], lambda r: role(call, r)))


routes: list[Route] = [
    *service_scoped("/Roles", GET=list_, POST=create),
    *service_scoped("/Roles/{Sid}", GET=fetch, POST=update, DELETE=remove),
]
