"""/Conversations/{ConversationSid}/Webhooks[/{Sid}] (and the /Services/{IS}/… copy): scoped webhooks."""

from __future__ import annotations

import re
from typing import Any

import orjson
from sqlalchemy import Connection, select
from starlette.responses import Response
from starlette.routing import Route

from hubbub.actions import conversation_webhooks as actions
from hubbub.actions.common import get_conversation
from hubbub.api.forms import Form
from hubbub.api.http import Call, json_response
from hubbub.api.pagination import PageRequest, envelope
from hubbub.api.routing import service_scoped
from hubbub.domain.clock import iso
from hubbub.domain.urls import check_webhook_url
from hubbub.errors import InvalidParameter
from hubbub.store.schema import conversation_webhooks

PAGE_SIZE = 5  # both the default and the maximum
MAX_FILTERS = 50
# Event names are not enumerated for scoped webhooks (the spec's examples use onMessageSent), so any
# `on…` name is taken.
_FILTER = re.compile(r"^on[A-Z][A-Za-z]{0,62}$")


def _lower_enum(form: Form, name: str, allowed: tuple[str, ...]) -> str | None:
    value = form.str(name)
    if value is None:
        return None
    if value.lower() not in allowed:
        raise InvalidParameter(f"Invalid {name}: '{value[:64]}' is not one of {', '.join(allowed)}")
    return value.lower()


def _filters(form: Form) -> list[str] | None:
    values = form.list("Configuration.Filters", max_items=MAX_FILTERS, max_len=64)
    if values is None:
        return None
    for value in values:
        if not _FILTER.match(value):
            raise InvalidParameter(f"Invalid Configuration.Filters: '{value[:64]}' is not an event name")
    return list(dict.fromkeys(values))


def webhook_fields(form: Form, *, update: bool) -> actions.WebhookFields:
    url = form.str("Configuration.Url")
    return actions.WebhookFields(
        target=None if update else _lower_enum(form, "Target", actions.TARGETS),
        url=None if url is None else check_webhook_url(url, "Configuration.Url"),
        method=_lower_enum(form, "Configuration.Method", actions.METHODS),
        filters=_filters(form),
        # generous bounds here, so that too many or too long keywords get Twilio's codes (50362, 50366)
        triggers=form.list("Configuration.Triggers", max_items=100, max_len=4096),
        flow_sid=form.sid("Configuration.FlowSid", "FW"),
        replay_after=None if update else form.integer("Configuration.ReplayAfter", minimum=0),
    )


def configuration(row: Any) -> dict[str, Any]:
    """`configuration` as Twilio shows it for the target; a trigger's keywords are shown as `filters`."""
    target = row["target"]
    body: dict[str, Any]
    if target == "studio":
        body = {"flow_sid": row["flow_sid"]}
    else:
        shown = row["triggers"] if target == "trigger" else row["filters"]
        body = {"url": row["url"], "method": row["method"], "filters": orjson.loads(shown)}
    if row["replay_after"] is not None:
        body["replay_after"] = row["replay_after"]
    return body


def webhook(call: Call, row: Any) -> dict[str, Any]:
    body = {
        "sid": row["sid"],
        "account_sid": row["account_sid"],
        "conversation_sid": row["conversation_sid"],
        "target": row["target"],
        "url": f"{call.prefix}/Conversations/{row['conversation_sid']}/Webhooks/{row['sid']}",
        "configuration": configuration(row),
        "date_created": iso(row["date_created"]),
        "date_updated": iso(row["date_updated"]),
    }
    if call.scope.service_sid:
        body["chat_service_sid"] = row["chat_service_sid"]
    return body


async def create(call: Call) -> Response:
    fields = actions.check_create_webhook(webhook_fields(call.form, update=False))
    conv = call.path["ConversationSid"]
    return await call.write(lambda conn: actions.do_create_webhook(conn, call.scope, conv, fields),
                            lambda row: webhook(call, row), 201)


async def update(call: Call) -> Response:
    fields = actions.check_update_webhook(webhook_fields(call.form, update=True))
    conv, key = call.path["ConversationSid"], call.path["Sid"]
    return await call.write(lambda conn: actions.do_update_webhook(conn, call.scope, conv, key, fields),
                            lambda row: webhook(call, row))


async def remove(call: Call) -> Response:
    conv, key = call.path["ConversationSid"], call.path["Sid"]
    return await call.write(lambda conn: actions.do_delete_webhook(conn, call.scope, conv, key), None)


async def fetch(call: Call) -> Response:
    conv, key = call.path["ConversationSid"], call.path["Sid"]

    def query(conn: Connection) -> Any:
        conversation = get_conversation(conn, call.scope, conv)
        return actions.get_webhook(conn, conversation["sid"], key)

    return json_response(webhook(call, await call.db.read(query)))


async def list_(call: Call) -> Response:
    page = PageRequest(call, max_size=PAGE_SIZE, default=PAGE_SIZE)
    conv = call.path["ConversationSid"]

    def query(conn: Connection) -> Any:
        conversation = get_conversation(conn, call.scope, conv)
        table = conversation_webhooks
        q = select(table).where(table.c.conversation_sid == conversation["sid"])
        return page.fetch(conn, q, table.c.id)

    rows, has_next, has_prev = await call.db.read(query)
    return json_response(envelope(call, "webhooks", page, rows, has_next, has_prev,
                                  lambda r: r["id"], lambda r: webhook(call, r)))


CONV = "/Conversations/{ConversationSid}"

routes: list[Route] = [
    *service_scoped(f"{CONV}/Webhooks", GET=list_, POST=create),
    *service_scoped(f"{CONV}/Webhooks/{{Sid}}", GET=fetch, POST=update, DELETE=remove),
]
