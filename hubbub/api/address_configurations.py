"""/v1/Configuration/Addresses[/{Sid}]: address configurations, addressed by `IG…` SID or by the address."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Connection, select
from starlette.responses import Response
from starlette.routing import Route

from hubbub.actions import address_configurations as actions
from hubbub.api.forms import Form
from hubbub.api.http import Call, json_response
from hubbub.api.pagination import PageRequest, envelope
from hubbub.api.routing import resource
from hubbub.domain.clock import iso
from hubbub.domain.urls import check_webhook_url
from hubbub.errors import InvalidParameter
from hubbub.store.schema import address_configurations

MAX_PAGE_SIZE = 50


def _method(form: Form) -> str | None:
    value = form.str("AutoCreation.WebhookMethod")
    if value is None:
        return None
    if value.upper() not in actions.WEBHOOK_METHODS:
        raise InvalidParameter(f"Invalid AutoCreation.WebhookMethod: '{value[:64]}' is not one of get, post")
    return value.upper()


def _auto_creation_type(form: Form) -> str | None:
    value = form.str("AutoCreation.Type")
    if value is not None and value.lower() not in actions.AUTO_CREATION_TYPES:
        raise InvalidParameter(f"Invalid AutoCreation.Type: '{value[:64]}' is not one of "
                               f"{', '.join(actions.AUTO_CREATION_TYPES)}")
    return None if value is None else value.lower()


def auto_creation_fields(form: Form) -> actions.AutoCreationFields:
    url = form.str("AutoCreation.WebhookUrl")
    filters = form.list("AutoCreation.WebhookFilters", max_items=len(actions.WEBHOOK_FILTERS) * 2, max_len=64)
    return actions.AutoCreationFields(
        enabled=form.boolean("AutoCreation.Enabled"),
        type=_auto_creation_type(form),
        conversation_service_sid=form.sid("AutoCreation.ConversationServiceSid", "IS"),
        webhook_url=None if url is None else check_webhook_url(url, "AutoCreation.WebhookUrl"),
        webhook_method=_method(form),
        webhook_filters=None if filters is None else list(dict.fromkeys(filters)),
        studio_flow_sid=form.sid("AutoCreation.StudioFlowSid", "FW"),
        studio_retry_count=form.integer("AutoCreation.StudioRetryCount", minimum=0,
                                        maximum=actions.MAX_STUDIO_RETRIES),
    )


def address_fields(form: Form, *, update: bool) -> actions.AddressFields:
    return actions.AddressFields(
        type=None if update else form.str("Type", max_len=32),
        address=None if update else form.str("Address"),
        friendly_name=form.str("FriendlyName", max_len=256),
        address_country=None if update else form.str("AddressCountry", max_len=8),
        auto_creation=auto_creation_fields(form),
    )


def auto_creation(stored: str) -> dict[str, Any]:
    """Twilio's `auto_creation` object: the common keys, then those of the configured type."""
    data = orjson.loads(stored)
    body: dict[str, Any] = {"enabled": data["enabled"], "type": data["type"]}
    keys: tuple[str, ...] = ("conversation_service_sid",)
    if data["type"] == "webhook":
        keys += ("webhook_url", "webhook_method", "webhook_filters")
    elif data["type"] == "studio":
        keys += ("studio_flow_sid", "studio_retry_count")
    for key in keys:
        if data.get(key) is not None:
            body[key] = data[key]
    if data["type"] == "webhook":
        body.setdefault("webhook_filters", [])
    return body


def address_configuration(call: Call, row: Any) -> dict[str, Any]:
    return {
        "sid": row["sid"],
        "account_sid": row["account_sid"],
        "type": row["type"],
        "address": row["address"],
        "friendly_name": row["friendly_name"],
        "auto_creation": auto_creation(row["auto_creation"]),
        "date_created": iso(row["date_created"]),
        "date_updated": iso(row["date_updated"]),
        "url": f"{call.base_url}/v1/Configuration/Addresses/{row['sid']}",
        "address_country": row["address_country"],
    }


async def create(call: Call) -> Response:
    fields = actions.check_create_address_configuration(address_fields(call.form, update=False))
    return await call.write(lambda conn: actions.do_create_address_configuration(conn, call.scope, fields),
                            lambda row: address_configuration(call, row), 201)


async def update(call: Call) -> Response:
    fields = actions.check_update_address_configuration(address_fields(call.form, update=True))
    key = call.path["Sid"]
    return await call.write(
        lambda conn: actions.do_update_address_configuration(conn, call.scope, key, fields),
        lambda row: address_configuration(call, row))


async def remove(call: Call) -> Response:
    key = call.path["Sid"]
    return await call.write(lambda conn: actions.do_delete_address_configuration(conn, call.scope, key), None)


async def fetch(call: Call) -> Response:
    key = call.path["Sid"]
    row = await call.db.read(lambda conn: actions.get_address_configuration(conn, call.scope, key))
    return json_response(address_configuration(call, row))


async def list_(call: Call) -> Response:
    page = PageRequest(call, max_size=MAX_PAGE_SIZE)
    filters: dict[str, str] = {}
    address_type = call.query.get("Type")
    if address_type is not None and address_type != "":
        address_type = actions.normalise_type(address_type)
        filters["Type"] = address_type
    table = address_configurations

    def query(conn: Connection) -> Any:
        q = select(table).where(table.c.account_sid == call.scope.account_sid)
        if address_type:
            q = q.where(table.c.type == address_type)
        return page.fetch(conn, q, table.c.id)

    rows, has_next, has_prev = await call.db.read(query)
    return json_response(envelope(call, "address_configurations", page, rows, has_next, has_prev,
                                  lambda r: r["id"], lambda r: address_configuration(call, r), filters))


routes: list[Route] = [
    resource("/v1/Configuration/Addresses", GET=list_, POST=create),
    resource("/v1/Configuration/Addresses/{Sid}", GET=fetch, POST=update, DELETE=remove),
]
