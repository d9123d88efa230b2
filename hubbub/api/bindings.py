"""/v1/Services/{IS}/Bindings: the push registrations of a service's users (read and delete only; a
client creates them when it registers for push notifications)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import orjson
from sqlalchemy import Connection, select
from starlette.responses import Response
from starlette.routing import Route

from hubbub.actions import services as actions
from hubbub.actions.common import service_sid
from hubbub.api.http import Call, json_response
from hubbub.api.pagination import PageRequest, envelope
from hubbub.api.routing import resource
from hubbub.domain.clock import iso
from hubbub.errors import InvalidParameter
from hubbub.store.schema import bindings

BINDING_TYPES = ("apn", "gcm", "fcm", "twilsock")
MAX_IDENTITY = 256
MAX_FILTER_VALUES = 100


def binding(call: Call, row: Any) -> dict[str, Any]:
    return {
        "sid": row["sid"],
        "account_sid": row["account_sid"],
        "chat_service_sid": row["chat_service_sid"],
        "credential_sid": row["credential_sid"],
        "date_created": iso(row["date_created"]),
        "date_updated": iso(row["date_updated"]),
        "endpoint": row["endpoint"],
        "identity": row["identity"],
        "binding_type": row["binding_type"],
        "message_types": orjson.loads(row["message_types"]),
        "url": f"{call.base_url}/v1/Services/{row['chat_service_sid']}/Bindings/{row['sid']}",
    }


def _filter(call: Call, name: str, allowed: tuple[str, ...] | None = None) -> list[str]:
    """A repeated query parameter (`BindingType=apn&BindingType=fcm`)."""
    values = call.query.getlist(name)
    if len(values) > MAX_FILTER_VALUES:
        raise InvalidParameter(f"Invalid {name}: at most {MAX_FILTER_VALUES} values")
    for value in values:
        if allowed is not None and value not in allowed:
            raise InvalidParameter(f"Invalid {name}: '{value[:64]}' is not one of {', '.join(allowed)}")
        if len(value) > MAX_IDENTITY:
            raise InvalidParameter(f"Invalid {name}: a value is longer than {MAX_IDENTITY} characters")
    return values


async def list_(call: Call) -> Response:
    page = PageRequest(call, max_size=100)
    types = _filter(call, "BindingType", BINDING_TYPES)
    identities = _filter(call, "Identity")

    def query(conn: Connection) -> Any:
        q = select(bindings).where(bindings.c.chat_service_sid == service_sid(conn, call.scope))
        if types:
            q = q.where(bindings.c.binding_type.in_(types))
        if identities:
            q = q.where(bindings.c.identity.in_(identities))
        return page.fetch(conn, q, bindings.c.id)

    rows, has_next, has_prev = await call.db.read(query)
    body = envelope(call, "bindings", page, rows, has_next, has_prev, lambda r: r["id"],
                    lambda r: binding(call, r))
    # The filters are lists (repeated keys), which `envelope` cannot carry: put them in front of the
    # paging parameters of every page URL, as Twilio does (`?Identity=a&PageSize=50&Page=0`).
    echoed = urlencode([("BindingType", t) for t in types] + [("Identity", i) for i in identities])
    if echoed:
        meta = body["meta"]
        for key in ("first_page_url", "previous_page_url", "url", "next_page_url"):
            if meta[key] is not None:
                meta[key] = meta[key].replace("?", f"?{echoed}&", 1)
    return json_response(body)


async def fetch(call: Call) -> Response:
    sid = call.path["Sid"]
    row = await call.db.read(lambda conn: actions.get_binding(conn, call.scope, sid))
    return json_response(binding(call, row))


async def remove(call: Call) -> Response:
    sid = call.path["Sid"]
    return await call.write(lambda conn: actions.do_delete_binding(conn, call.scope, sid), None)


routes: list[Route] = [
    resource("/v1/Services/{ChatServiceSid}/Bindings", GET=list_),
    resource("/v1/Services/{ChatServiceSid}/Bindings/{Sid}", GET=fetch, DELETE=remove),
]
