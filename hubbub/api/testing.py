"""The test clock: `/hubbub/v1/Testing/Clock`, present only when the server runs with HUBBUB_TESTING=1.

- `GET` → `{"now": "…Z", "epoch": <seconds>, "offset": <seconds the clock was moved>}`
- `POST Advance=<seconds>` moves this process's clock forward (timers, retry times, dates of new
  resources all follow it) and wakes the timer and webhook workers, so a test sees what would happen
  that much later without sleeping. The clock never goes back; a restart resets it to the system clock.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from hubbub.api.http import Call, json_response
from hubbub.api.routing import resource
from hubbub.domain import clock
from hubbub.errors import InvalidParameter, NotFound

MAX_ADVANCE = 10 * 365 * 86400


def _enabled(call: Call) -> Any:
    runtime = getattr(call.request.app.state, "webhooks", None)
    if runtime is None or not runtime.settings.testing:
        raise NotFound(f"The requested resource {call.request.url.path} was not found")
    return runtime


def _body() -> dict[str, Any]:
    return {"now": clock.iso(clock.now()), "epoch": clock.now(), "offset": clock._offset}


async def fetch(call: Call) -> Response:
    _enabled(call)
    return json_response(_body())


async def advance(call: Call) -> Response:
    runtime = _enabled(call)
    raw = call.form.str("Advance", max_len=32)
    try:
        seconds = float(raw) if raw is not None else None
    except ValueError:
        seconds = None
    if seconds is None or not 0 <= seconds <= MAX_ADVANCE:
        raise InvalidParameter(f"Invalid Advance: a number of seconds from 0 to {MAX_ADVANCE} is required")
    clock.advance(seconds)
    runtime.wake()
    return json_response(_body())


routes: list[Route] = [resource("/hubbub/v1/Testing/Clock", GET=fetch, POST=advance)]
