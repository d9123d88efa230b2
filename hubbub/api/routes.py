"""The Twilio-compatible URL map. Every resource under `/v1/…` that belongs to a Conversation Service
is also served under `/v1/Services/{ChatServiceSid}/…`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hubbub.api import configuration, conversations, messages, participants
from hubbub.api.http import Call, endpoint, error_response
from hubbub.errors import MethodNotAllowed

Handler = Callable[[Call], Awaitable[Response]]


def resource(path: str, **handlers: Handler) -> Route:
    """One path, one handler per HTTP method; other methods get a Twilio-style 405."""
    wrapped = {method: endpoint(handler) for method, handler in handlers.items()}
    allowed = ", ".join(sorted(wrapped))

    async def dispatch(request: Request) -> Response:
        handler = wrapped.get(request.method)
        if handler is None:
            response = error_response(MethodNotAllowed(f"Method {request.method} not allowed on {path}"))
            response.headers["Allow"] = allowed
            return response
        return await handler(request)

    return Route(path, dispatch, methods=["GET", "POST", "DELETE", "PUT", "PATCH", "OPTIONS"])


def service_scoped(path: str, **handlers: Handler) -> list[Route]:
    return [resource(f"/v1{path}", **handlers), resource(f"/v1/Services/{{ChatServiceSid}}{path}", **handlers)]


CONV = "/Conversations/{ConversationSid}"
MSG = f"{CONV}/Messages/{{MessageSid}}"

routes: list[Route] = [
    resource("/v1/Configuration", GET=configuration.fetch, POST=configuration.update),
    *service_scoped("/Conversations", GET=conversations.list_, POST=conversations.create),
    *service_scoped("/Conversations/{Sid}", GET=conversations.fetch, POST=conversations.update,
                    DELETE=conversations.remove),
    *service_scoped(f"{CONV}/Participants", GET=participants.list_, POST=participants.create),
    *service_scoped(f"{CONV}/Participants/{{Sid}}", GET=participants.fetch, POST=participants.update,
                    DELETE=participants.remove),
    *service_scoped(f"{CONV}/Messages", GET=messages.list_, POST=messages.create),
    *service_scoped(f"{CONV}/Messages/{{Sid}}", GET=messages.fetch, POST=messages.update,
                    DELETE=messages.remove),
    *service_scoped(f"{MSG}/Receipts", GET=messages.list_receipts),
    *service_scoped(f"{MSG}/Receipts/{{Sid}}", GET=messages.fetch_receipt),
]
