"""Fixtures for the real-time gateway tests: API keys, access tokens minted with the official `twilio`
package, and connected `hubbub.client.RealtimeClient`s. Each test makes its own identities, since the
server is shared by the whole session."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from twilio.jwt.access_token import AccessToken
from twilio.jwt.access_token.grants import ChatGrant

from hubbub.actions.accounts import do_create_api_key
from hubbub.client import RealtimeClient
from tests.conftest import ACCOUNT_SID, OTHER_ACCOUNT_SID, Server


@pytest.fixture(scope="session")
def api_key(server: Server) -> tuple[str, str]:
    with server.engine.begin() as conn:
        return do_create_api_key(conn, ACCOUNT_SID, "realtime tests")


@pytest.fixture(scope="session")
def other_api_key(server: Server) -> tuple[str, str]:
    with server.engine.begin() as conn:
        return do_create_api_key(conn, OTHER_ACCOUNT_SID, "realtime tests (other account)")


@pytest.fixture(scope="session")
def service_sid(server: Server) -> str:
    sid: str = server.client().conversations.v1.configuration().fetch().default_chat_service_sid  # type: ignore[attr-defined]
    return sid


Mint = Callable[..., str]


@pytest.fixture
def mint(api_key: tuple[str, str], service_sid: str) -> Mint:
    def make(identity: str, *, service: str | None = None, ttl: int = 3600, key: tuple[str, str] | None = None,
             account_sid: str = ACCOUNT_SID, chat: bool = True, **kw: Any) -> str:
        sid, secret = key or api_key
        token = AccessToken(account_sid, sid, secret, identity=identity, ttl=ttl, **kw)
        if chat:
            token.add_grant(ChatGrant(service_sid=service or service_sid))
        return token.to_jwt()  # type: ignore[no-any-return]
    return make


@pytest.fixture
def ident() -> Callable[[str], str]:
    """Unique identities per test: ident('alice') → 'alice-1a2b3c4d'."""
    suffix = uuid.uuid4().hex[:8]
    return lambda name: f"{name}-{suffix}"


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 120))


async def connect(server: Server, token: str, **kw: Any) -> RealtimeClient:
    return await RealtimeClient(server.url, token, **kw).connect()
