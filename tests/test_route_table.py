"""The direct route table (api/routing.py RouteTable) must pick exactly the route, and the path
parameters, that Starlette's router would: it replaces the router on the API's hot path."""

from __future__ import annotations

import itertools

import pytest
from starlette.routing import Match, Route

from hubbub.api.routes import routes
from hubbub.api.routing import RouteTable

TABLE = RouteTable(routes)
# Parameter values, including ones equal to a literal segment of another route.
VALUES = ["CH0123", "Messages", "Configuration", "Webhooks", "Services", "%41 b"]


def _starlette(path: str, method: str) -> tuple[object, dict[str, str]] | None:
    scope = {"type": "http", "path": path, "method": method, "root_path": ""}
    for route in routes:
        match, child = route.matches(scope)
        if match is Match.FULL:
            return (route.endpoint if isinstance(route, Route) else route), child.get("path_params", {})
        if match is Match.PARTIAL:
            return None
    return None


def _paths() -> list[str]:
    found = []
    for route in routes:
        if not isinstance(route, Route):
            continue
        segments = route.path.split("/")
        slots = [i for i, s in enumerate(segments) if s.startswith("{")]
        for values in itertools.islice(itertools.product(VALUES, repeat=len(slots)), 40):
            parts = list(segments)
            for i, value in zip(slots, values, strict=True):
                parts[i] = value
            found.append("/".join(parts))
    return found


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
def test_same_route_and_parameters_as_starlette(method: str) -> None:
    paths = _paths()
    assert len(paths) > 500
    known = 0
    for path in paths:
        ours = TABLE.match(path, method)
        if ours is None:  # falls back to Starlette's router, which is then right by definition
            continue
        known += 1
        assert ours == _starlette(path, method), path
    assert known > 400  # the table does answer for the API's resources


@pytest.mark.parametrize("path", ["/v1/Conversations/", "/v1//Conversations", "v1/Conversations",
                                  "/v1/Conversations/CH1/Messages/", "/chat", "/nope", ""])
def test_unknown_shapes_fall_back_to_starlette(path: str) -> None:
    assert TABLE.match(path, "GET") is None
