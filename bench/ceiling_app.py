"""The ceiling for bench_messages.py: Hubbub's request path for a message create, minus the database.

One route of the same shape as the real one (`POST /v1/Conversations/{ConversationSid}/Messages`),
routed by `HubbubApp` as the real server routes it, and served by uvicorn with the same settings as
`hubbub serve` (one process; uvloop and httptools when installed, as uvicorn's "auto" picks them).
Per request it does what the real endpoint does outside the database:

* HTTP Basic credentials parsed by `hubbub.api.auth.parse_basic` and compared with `hmac.compare_digest`
  (the real server's cache hit path; no look-up),
* the body read with `await request.body()`, the Content-Type checked, decoded, and parsed by
  `hubbub.api.forms.Form.parse`, then validated by the same `hubbub.api.messages.message_fields`,
* a new `IM` SID, and the message JSON built by `hubbub.api.representations.message` from a row of the
  same shape `do_create_message` returns (with the one-SMS-recipient `delivery` summary),
* the answer serialised with orjson by `hubbub.api.http.json_response`, status 201.

What it leaves out is exactly the database work: the writer-thread hop, SQLAlchemy, the driver and the
commit. So `creates/s ÷ ceiling req/s` is the share of the stack's own speed the database path keeps.

Run: `python bench/ceiling_app.py PORT` (or `uvicorn bench.ceiling_app:app --port PORT`).
Credentials come from HUBBUB_ACCOUNT_SID / HUBBUB_AUTH_TOKEN, as for the real server.
"""

from __future__ import annotations

import hmac
import os
import sys
from types import SimpleNamespace
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hubbub.actions.common import Scope
from hubbub.actions.messages import check_create_message, delivery_summary
from hubbub.api import representations as rep
from hubbub.api.auth import parse_basic
from hubbub.api.http import Call, base_url, error_response, header, header_map, json_response, read_form
from hubbub.api.messages import message_fields
from hubbub.app import HubbubApp
from hubbub.domain import clock
from hubbub.domain.sids import new_sid
from hubbub.errors import AuthenticationFailed, TwilioError
from hubbub.settings import Settings

SETTINGS = Settings()
ACCOUNT_SID = SETTINGS.account_sid or "AC" + "0" * 32
AUTH_TOKEN = SETTINGS.auth_token or "bench-token-0123456789"
CHAT_SERVICE_SID = "IS" + "0" * 32
PARTICIPANT_SID = "MB" + "1" * 32


async def create_message(request: Request) -> Response:
    try:
        headers = header_map(request)
        username, password = parse_basic(header(headers, b"authorization"))
        if username != ACCOUNT_SID or not hmac.compare_digest(AUTH_TOKEN.encode(), password.encode()):
            raise AuthenticationFailed("Authentication Error - invalid username or password")
        scope = Scope(ACCOUNT_SID, None, "API", False)
        call = Call(request, scope, await read_form(request, headers), base_url(request, headers))
        fields = check_create_message(message_fields(call.form, update=False))
        now = clock.now()
        row: dict[str, Any] = dict(
            sid=new_sid("IM"), account_sid=ACCOUNT_SID, chat_service_sid=CHAT_SERVICE_SID,
            conversation_sid=request.path_params["ConversationSid"], index=0,
            author=fields.author or "system",
            body=fields.body, attributes=fields.attributes or "{}", participant_sid=PARTICIPANT_SID,
            media=None, content_sid=fields.content_sid, subject=fields.subject,
            date_created=fields.date_created or now, date_updated=fields.date_updated,
        )
        row["delivery"] = delivery_summary([None])
        return json_response(rep.message(call, row, row["delivery"]), 201)
    except TwilioError as exc:
        return error_response(exc)


# Routed as the real server routes its resources: HubbubApp's direct table, not Starlette's router.
create_message.hubbub_resource = True  # type: ignore[attr-defined]
app = HubbubApp(routes=[
    Route("/v1/Conversations/{ConversationSid}/Messages", create_message, methods=["POST"]),
])
# `hubbub.api.http.base_url` reads the configured public URL from here, as in the real app.
app.state.hubbub = SimpleNamespace(settings=SETTINGS)


def main() -> None:
    import uvicorn

    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8099
    level = os.environ.get("HUBBUB_LOG_LEVEL", "warning").lower()
    # Same arguments as `hubbub serve` (hubbub/cli.py).
    uvicorn.run(app, host="127.0.0.1", port=port, log_level=level, access_log=False, proxy_headers=False,
                timeout_graceful_shutdown=10, server_header=False)


if __name__ == "__main__":
    main()
