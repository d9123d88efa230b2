"""Building blocks of the URL map: `resource` (one path, a handler per HTTP method) and `service_scoped`
(the same resource under `/v1/…` and `/v1/Services/{ChatServiceSid}/…`).

They live apart from routes.py so that a resource module can build its own `routes` list without
importing routes.py, which imports every resource module.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

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

    dispatch.hubbub_resource = True  # type: ignore[attr-defined]  # RouteTable may call it directly
    return Route(path, dispatch, methods=["GET", "POST", "DELETE", "PUT", "PATCH", "OPTIONS"])


def service_scoped(path: str, **handlers: Handler) -> list[Route]:
    return [resource(f"/v1{path}", **handlers),
            resource(f"/v1/Services/{{ChatServiceSid}}{path}", **handlers)]


Endpoint = Callable[[Request], Awaitable[Response]]


class _Node:
    __slots__ = ("literal", "param", "leaves")

    def __init__(self) -> None:
        self.literal: dict[str, _Node] = {}
        self.param: _Node | None = None
        # (declaration order, parameter names by position, methods, endpoint) of routes ending here
        self.leaves: list[tuple[int, tuple[str | None, ...], frozenset[str], Endpoint]] = []


class RouteTable:
    """Finds the `resource` route of a path with one dict look-up per segment.

    Starlette's router tries every route's regex in turn and wraps the endpoint in two exception
    layers, which cost more than the rest of a request's routing on the message-create hot path (see
    bench/README.md). This table answers the same question for the routes `resource` builds (one-segment
    `{name}` parameters only) and picks the first-declared route when several match, as Starlette does.
    A path it does not know (other routes, trailing slashes, empty segments) returns None and goes
    through Starlette's router as before.
    """

    def __init__(self, routes: Iterable[BaseRoute]) -> None:
        self._root = _Node()
        for order, route in enumerate(routes):
            if not (isinstance(route, Route) and getattr(route.endpoint, "hubbub_resource", False)):
                continue
            node = self._root
            names: list[str | None] = []
            for segment in route.path.split("/")[1:]:
                if segment.startswith("{") and segment.endswith("}") and ":" not in segment:
                    node.param = node.param or _Node()
                    node = node.param
                    names.append(segment[1:-1])
                else:
                    node = node.literal.setdefault(segment, _Node())
                    names.append(None)
            node.leaves.append((order, tuple(names), frozenset(route.methods or ()), route.endpoint))

    def match(self, path: str, method: str) -> tuple[Endpoint, dict[str, str]] | None:
        segments = path.split("/")
        if segments[0] != "" or "" in segments[1:]:
            return None
        best = self._best(self._root, segments, 1)
        if best is None or method not in best[2]:
            return None
        params = {name: segments[i + 1] for i, name in enumerate(best[1]) if name is not None}
        return best[3], params

    def _best(self, node: _Node, segments: list[str], i: int) -> Any:
        """The first-declared route that matches `segments[i:]` below `node`, or None."""
        if i == len(segments):
            return node.leaves[0] if node.leaves else None
        best = None
        child = node.literal.get(segments[i])
        if child is not None:
            best = self._best(child, segments, i + 1)
        if node.param is not None:
            other = self._best(node.param, segments, i + 1)
            if other is not None and (best is None or other[0] < best[0]):
                best = other
        return best
