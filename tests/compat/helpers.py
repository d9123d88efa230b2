"""Helpers for the Twilio-compatibility suite (its fixtures are in conftest.py next to this file).

- `new_number()`: a phone number no other test uses, because the number-pair rule is account-wide;
- `twilio_error(status, code)`: expect a `TwilioRestException` with that HTTP status and Twilio code;
- `nothing_written(server)`: assert that no table row count changed inside the block (`write_counts`);
- `assert_error_body(response, status, code)`: check a raw response is a Twilio-style error.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import requests
from sqlalchemy import func, select
from twilio.base.exceptions import TwilioRestException

from hubbub.store import schema
from hubbub.store.schema import events

_numbers = itertools.count(random.randrange(1_000_000, 8_000_000))


def new_number() -> str:
    """A North American E.164 number that no other test in this session has used."""
    return f"+1415{next(_numbers):07d}"


@contextmanager
def twilio_error(status: int, code: int) -> Iterator[pytest.ExceptionInfo[TwilioRestException]]:
    with pytest.raises(TwilioRestException) as info:
        yield info
    assert (info.value.status, info.value.code) == (status, code), info.value.msg


def write_counts(server: Any) -> dict[str, int]:
    """`server.counts()`, leaving out the events the server's timer loop writes in the background.

    Other tests leave conversations with timers behind; when one fires, the server records an
    `onConversationStateUpdated` event with reason TIMER on its own. That is not a write caused by the
    request under test, so it must not make "nothing was written" fail at random.
    """
    counts: dict[str, int] = server.counts()
    if "users" in schema.metadata.tables:  # a chat participant's first join creates its user
        counts["users"] = server.count("users")
    with server.engine.connect() as conn:
        timer_events = conn.execute(
            select(func.count())
            .select_from(events)
            .where(events.c.type == "onConversationStateUpdated", events.c.payload.contains('"reason":"TIMER"'))
        ).scalar_one()
    counts["events"] -= int(timer_events)
    return counts


@contextmanager
def nothing_written(server: Any) -> Iterator[None]:
    """Assert that the block adds or removes no row in any table the API writes to."""
    before = write_counts(server)
    yield
    assert write_counts(server) == before


def assert_error_body(response: requests.Response, status: int, code: int | None = None) -> dict[str, Any]:
    """A Twilio-style error: the status, a JSON body with code/message/more_info/status."""
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) >= {"code", "message", "more_info", "status"}
    assert body["status"] == status
    assert body["more_info"] == f"https://www.twilio.com/docs/errors/{body['code']}"
    if code is not None:
        assert body["code"] == code, body
    return body
