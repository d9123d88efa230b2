"""/v1/Configuration/Webhooks (account level) and /v1/Services/{IS}/Configuration/Webhooks (service level)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response
from starlette.routing import Route

from hubbub.actions import webhook_configuration as actions
from hubbub.actions.services import get_service_configuration
from hubbub.api.forms import Form
from hubbub.api.http import Call, json_response
from hubbub.api.routing import resource

MAX_FILTERS = 50


def account_webhooks(call: Call, row: Any) -> dict[str, Any]:
    return {
        "account_sid": row["account_sid"],
        "method": row["method"],
        "filters": orjson.loads(row["filters"]),
        "pre_webhook_url": row["pre_webhook_url"],
        "post_webhook_url": row["post_webhook_url"],
        "target": row["target"],
        "url": f"{call.base_url}/v1/Configuration/Webhooks",
    }


def service_webhooks(call: Call, row: Any) -> dict[str, Any]:
    return {
        "account_sid": row["account_sid"],
        "chat_service_sid": row["chat_service_sid"],
        "pre_webhook_url": row["pre_webhook_url"],
        "post_webhook_url": row["post_webhook_url"],
        "filters": orjson.loads(row["webhook_filters"]),
        "method": row["webhook_method"],
        "url": f"{call.base_url}/v1/Services/{row['chat_service_sid']}/Configuration/Webhooks",
    }


def _changes(form: Form, allowed_filters: frozenset[str], *, method: str, filters: str) -> dict[str, Any]:
    """Column → new value for the fields the form gives (`method`, `filters`: those two columns' names)."""
    changes: dict[str, Any] = {}
    for parameter, column in (("PreWebhookUrl", "pre_webhook_url"), ("PostWebhookUrl", "post_webhook_url")):
        if parameter in form:
            changes[column] = actions.check_url(parameter, form.str(parameter))
    if "Method" in form:
        changes[method] = actions.check_method("Method", form.str("Method"))
    if "Filters" in form:
        changes[filters] = actions.check_filters(
            "Filters", form.list("Filters", max_items=MAX_FILTERS, max_len=64), allowed_filters)
    return changes


async def fetch_account(call: Call) -> Response:
    row = await call.db.read(lambda conn: actions.get_account_webhooks(conn, call.scope.account_sid))
    return json_response(account_webhooks(call, row))


async def update_account(call: Call) -> Response:
    changes = _changes(call.form, actions.ACCOUNT_FILTERS, method="method", filters="filters")
    if "Target" in call.form:
        changes["target"] = call.form.enum("Target", actions.TARGETS)
    return await call.write(lambda conn: actions.do_update_account_webhooks(conn, call.scope, changes),
                            lambda row: account_webhooks(call, row))


async def fetch_service(call: Call) -> Response:
    row = await call.db.read(lambda conn: get_service_configuration(conn, call.scope))
    return json_response(service_webhooks(call, row))


async def update_service(call: Call) -> Response:
    changes = _changes(call.form, actions.SERVICE_FILTERS, method="webhook_method", filters="webhook_filters")
    return await call.write(lambda conn: actions.do_update_service_webhooks(conn, call.scope, changes),
                            lambda row: service_webhooks(call, row))


routes: list[Route] = [
    resource("/v1/Configuration/Webhooks", GET=fetch_account, POST=update_account),
    resource("/v1/Services/{ChatServiceSid}/Configuration/Webhooks", GET=fetch_service, POST=update_service),
]
