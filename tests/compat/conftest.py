"""Fixtures for the Twilio-compatibility suite.

Every test talks to the real `hubbub serve` started by the session fixture in tests/conftest.py, mostly
through the official `twilio` package. The server (and its database) is shared by the whole session, so
no test relies on an empty database: each makes what it needs, e.g. with the `conversation` fixture.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from twilio.base.exceptions import TwilioRestException


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


@pytest.fixture
def other_auth(other_client: Any) -> tuple[str, str]:
    """Basic-auth credentials of the second account, for raw requests."""
    return other_client.username, other_client.password


@pytest.fixture
def disposable(client: Any) -> Iterator[list[str]]:
    """Conversation SIDs to delete when the test ends: those with timers, which would otherwise change
    state (and write events) while a later test checks that nothing was written."""
    sids: list[str] = []
    yield sids
    for sid in sids:
        try:
            client.conversations.v1.conversations(sid).delete()
        except TwilioRestException:
            pass
