"""Building blocks of the URL map: `resource` (one path, a handler per HTTP method) and `service_scoped`
(the same resource under `/v1/…` and `/v1/Services/{ChatServiceSid}/…`).

They live apart from routes.py so that a resource module can build its own `routes` list without
importing routes.py, which imports every resource module.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

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
    return [resource(f"/v1{path}", **handlers),
            resource(f"/v1/Services/{{ChatServiceSid}}{path}", **handlers)]
