"""/v1/Configuration: the account's defaults."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from hubbub.actions import configuration as actions
from hubbub.api import representations as rep
from hubbub.api.http import Call, json_response


async def fetch(call: Call) -> Response:
    row = await call.db.read(lambda conn: actions.get_configuration(conn, call.scope.account_sid))
    return json_response(rep.configuration(call, row))


async def update(call: Call) -> Response:
    form = call.form
    changes: dict[str, Any] = {}
    if "DefaultChatServiceSid" in form:
        changes["default_chat_service_sid"] = form.sid("DefaultChatServiceSid", "IS")
    if "DefaultMessagingServiceSid" in form:
        changes["default_messaging_service_sid"] = form.sid("DefaultMessagingServiceSid", "MG")
    if "DefaultInactiveTimer" in form:
        changes["default_inactive_timer"] = actions.check_default_timer(
            "default_inactive_timer", form.str("DefaultInactiveTimer", max_len=64))
    if "DefaultClosedTimer" in form:
        changes["default_closed_timer"] = actions.check_default_timer(
            "default_closed_timer", form.str("DefaultClosedTimer", max_len=64))
    return await call.write(lambda conn: actions.do_update_configuration(conn, call.scope, changes),
                            lambda row: rep.configuration(call, row))
