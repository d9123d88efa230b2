"""/Conversations/{ConversationSid}/Messages and their Receipts."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import Connection, select
from starlette.responses import Response

from hubbub.actions import messages as actions
from hubbub.actions.common import get_conversation, not_found
from hubbub.api import representations as rep
from hubbub.api.forms import Form
from hubbub.api.http import Call, json_response
from hubbub.api.pagination import PageRequest, envelope
from hubbub.errors import BODY_TOO_LONG, MEDIA_SID_INVALID, InvalidParameter
from hubbub.store.schema import messages, receipts
from hubbub.webhooks import pre

MAX_BODY_BYTES = 32 * 1024
MAX_ATTRIBUTES = 4 * 1024


def message_fields(form: Form, *, update: bool) -> actions.MessageFields:
    body = form.str("Body")
    if body is not None and len(body.encode("utf-8", "surrogatepass")) > MAX_BODY_BYTES:
        raise InvalidParameter(f"Invalid Body: larger than {MAX_BODY_BYTES} bytes", code=BODY_TOO_LONG)
    media: tuple[str, ...] = ()
    if not update:
        sids = form.list("MediaSid", max_items=10) or []
        for sid in sids:
            if not (len(sid) == 34 and sid.startswith("ME")):
                raise InvalidParameter(f"Invalid MediaSid: '{sid[:64]}' is not a valid ME SID",
                                       code=MEDIA_SID_INVALID)
        media = tuple(sids)
    return actions.MessageFields(
        author=form.str("Author", max_len=256),
        body=body,
        attributes=form.json_text("Attributes", max_bytes=MAX_ATTRIBUTES),
        media_sids=media,
        content_sid=None if update else form.sid("ContentSid", "HX"),
        content_variables=None if update else form.json_text("ContentVariables", max_bytes=16 * 1024),
        subject=form.str("Subject", max_len=256),
        date_created=form.datetime("DateCreated"),
        date_updated=form.datetime("DateUpdated"),
    )


def _deliveries(conn: Connection, message_sids: list[str]) -> dict[str, dict[str, Any] | None]:
    statuses: dict[str, list[str | None]] = defaultdict(list)
    if message_sids:
        for sid, status in conn.execute(select(receipts.c.message_sid, receipts.c.status)
                                        .where(receipts.c.message_sid.in_(message_sids))):
            statuses[sid].append(status)
    return {sid: actions.delivery_summary(statuses[sid]) if statuses.get(sid) else None for sid in message_sids}


async def create(call: Call) -> Response:
    fields = actions.check_create_message(message_fields(call.form, update=False))
    conv = call.path["ConversationSid"]
    fields = actions.check_create_message(await pre.message_add(call, conv, fields))
    return await call.write(lambda conn: actions.do_create_message(conn, call.scope, conv, fields),
                            lambda row: rep.message(call, row, row["delivery"]), 201, key=conv)


def _with_delivery(conn: Connection, row: Any) -> tuple[Any, dict[str, Any] | None]:
    return row, _deliveries(conn, [row["sid"]])[row["sid"]]


async def update(call: Call) -> Response:
    fields = message_fields(call.form, update=True)
    conv, sid = call.path["ConversationSid"], call.path["Sid"]
    fields = await pre.message_update(call, conv, sid, fields)
    return await call.write(
        lambda conn: _with_delivery(conn, actions.do_update_message(conn, call.scope, conv, sid, fields)),
        lambda result: rep.message(call, *result))


async def remove(call: Call) -> Response:
    conv, sid = call.path["ConversationSid"], call.path["Sid"]
    await pre.message_remove(call, conv, sid)
    return await call.write(lambda conn: actions.do_delete_message(conn, call.scope, conv, sid), None)


async def fetch(call: Call) -> Response:
    conv, sid = call.path["ConversationSid"], call.path["Sid"]

    def query(conn: Connection) -> Any:
        conversation = get_conversation(conn, call.scope, conv)
        return _with_delivery(conn, actions.get_message(conn, conversation["sid"], sid))

    return json_response(rep.message(call, *(await call.db.read(query))))


async def list_(call: Call) -> Response:
    page = PageRequest(call, max_size=100)
    conv = call.path["ConversationSid"]
    order = call.query.get("Order")
    if order is not None and order not in ("asc", "desc"):
        raise InvalidParameter(f"Invalid Order: '{order[:32]}' is not one of asc, desc")

    def query(conn: Connection) -> Any:
        conversation = get_conversation(conn, call.scope, conv)
        q = select(messages).where(messages.c.conversation_sid == conversation["sid"])
        rows, has_next, has_prev = page.fetch(conn, q, messages.c.index, descending=order == "desc")
        return rows, has_next, has_prev, _deliveries(conn, [r["sid"] for r in rows])

    rows, has_next, has_prev, deliveries = await call.db.read(query)
    return json_response(envelope(call, "messages", page, rows, has_next, has_prev, lambda r: r["index"],
                                  lambda r: rep.message(call, r, deliveries[r["sid"]]),
                                  {"Order": order} if order else None))


def _message_of(conn: Connection, call: Call) -> Any:
    conversation = get_conversation(conn, call.scope, call.path["ConversationSid"])
    return actions.get_message(conn, conversation["sid"], call.path["MessageSid"])


async def list_receipts(call: Call) -> Response:
    page = PageRequest(call, max_size=50)

    def query(conn: Connection) -> Any:
        message = _message_of(conn, call)
        q = select(receipts).where(receipts.c.message_sid == message["sid"])
        return page.fetch(conn, q, receipts.c.id)

    rows, has_next, has_prev = await call.db.read(query)
    return json_response(envelope(call, "delivery_receipts", page, rows, has_next, has_prev,
                                  lambda r: r["id"], lambda r: rep.receipt(call, r)))


async def fetch_receipt(call: Call) -> Response:
    sid = call.path["Sid"]

    def query(conn: Connection) -> Any:
        message = _message_of(conn, call)
        row = conn.execute(select(receipts).where(receipts.c.message_sid == message["sid"],
                                                  receipts.c.sid == sid)).mappings().first()
        if row is None:
            raise not_found(f"/Conversations/{message['conversation_sid']}/Messages/{message['sid']}"
                            f"/Receipts/{sid}")
        return row

    return json_response(rep.receipt(call, await call.db.read(query)))
