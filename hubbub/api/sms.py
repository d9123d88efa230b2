"""Hubbub's own SMS endpoints (not part of Twilio's API): `/hubbub/v1/Sms/Unrouted[/{Sid}]`, the inbound SMS
that no conversation took and no address configuration auto-created one for."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select
from starlette.responses import Response
from starlette.routing import Route

from hubbub.actions.common import not_found
from hubbub.api.http import Call, json_response
from hubbub.api.pagination import PageRequest, envelope
from hubbub.api.routing import resource
from hubbub.domain.clock import iso
from hubbub.domain.sids import is_sid
from hubbub.store.schema_sms import sms_unrouted

PREFIX = "/hubbub/v1/Sms"
MAX_PAGE_SIZE = 100


def unrouted_message(call: Call, row: Any) -> dict[str, Any]:
    return {
        "sid": row["sid"],
        "account_sid": row["account_sid"],
        "from": row["source"],
        "to": row["destination"],
        "body": row["body"],
        "num_segments": row["segments"],
        "reason": row["reason"],
        "date_created": iso(row["date_created"]),
        "url": f"{call.base_url}{PREFIX}/Unrouted/{row['sid']}",
    }


async def list_unrouted(call: Call) -> Response:
    page = PageRequest(call, max_size=MAX_PAGE_SIZE)
    table = sms_unrouted

    def query(conn: Connection) -> Any:
        return page.fetch(conn, select(table).where(table.c.account_sid == call.scope.account_sid), table.c.id,
                          descending=True)

    rows, has_next, has_prev = await call.db.read(query)
    return json_response(envelope(call, "unrouted_messages", page, rows, has_next, has_prev, lambda r: r["id"],
                                  lambda r: unrouted_message(call, r)))


async def fetch_unrouted(call: Call) -> Response:
    sid = call.path["Sid"]
    table = sms_unrouted

    def query(conn: Connection) -> Any:
        row = None
        if is_sid(sid, "SM"):
            row = conn.execute(select(table).where(table.c.sid == sid,
                                                   table.c.account_sid == call.scope.account_sid)).mappings().first()
        if row is None:
            raise not_found(f"{PREFIX}/Unrouted/{sid}")
        return row

    return json_response(unrouted_message(call, await call.db.read(query)))


routes: list[Route] = [
    resource(f"{PREFIX}/Unrouted", GET=list_unrouted),
    resource(f"{PREFIX}/Unrouted/{{Sid}}", GET=fetch_unrouted),
]
