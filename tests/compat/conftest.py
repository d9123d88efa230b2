"""Shared helpers for the Twilio-compatibility suite.

Every test talks to the real `hubbub serve` started by the session fixture in tests/conftest.py, mostly
through the official `twilio` package. The helpers here keep individual tests short:

- `conversation`: a fresh conversation per test (the server is shared by the whole session, so tests
  never rely on an empty database);
- `new_number()`: a phone number no other test uses, because the number-pair rule is account-wide;
- `twilio_error(status, code)`: expect a `TwilioRestException` with that HTTP status and Twilio code;
- `nothing_written(server)`: assert that no table row count changed inside the block;
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
from twilio.base.exceptions import TwilioRestException

_numbers = itertools.count(random.randrange(1_000_000, 8_000_000))


def new_number() -> str:
    """A North American E.164 number that no other test in this session has used."""
    return f"+1415{next(_numbers):07d}"


@contextmanager
def twilio_error(status: int, code: int) -> Iterator[pytest.ExceptionInfo[TwilioRestException]]:
    with pytest.raises(TwilioRestException) as info:
        yield info
    assert (info.value.status, info.value.code) == (status, code), info.value.msg


@contextmanager
def nothing_written(server: Any) -> Iterator[None]:
    before = server.counts()
    yield
    assert server.counts() == before


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


@pytest.fixture
def conversations(client: Any) -> Any:
    return client.conversations.v1.conversations


@pytest.fixture
def conversation(client: Any, request: pytest.FixtureRequest) -> Any:
    return client.conversations.v1.conversations.create(friendly_name=f"test {request.node.name}"[:256])


@pytest.fixture
def service_sid(client: Any) -> str:
    sid: str = client.conversations.v1.configuration().fetch().default_chat_service_sid
    return sid


@pytest.fixture
def service(client: Any, service_sid: str) -> Any:
    """The default Conversation Service, addressed through /v1/Services/{IS}/…"""
    return client.conversations.v1.services(service_sid)
