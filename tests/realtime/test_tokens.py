"""Access tokens: the JWT `twilio.jwt.access_token.AccessToken` + `ChatGrant` produces is accepted;
expired, tampered, wrong-key, wrong-account and grant-less tokens are refused with Twilio's codes, at
connect and on refresh; a token is renewed on an open connection; an expired one closes it."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest

from hubbub.client import ChatError
from hubbub.realtime import tokens
from tests.conftest import OTHER_ACCOUNT_SID, Server
from tests.realtime.conftest import Mint, connect, run


def test_verify_accepts_the_twilio_helper_token(mint: Mint, api_key: tuple[str, str], service_sid: str) -> None:
    token = mint("alice")
    assert jwt.get_unverified_header(token)["cty"] == "twilio-fpa;v=1"
    grant = tokens.verify(token, ("AC" + "a1" * 16, api_key[1]))
    assert (grant.identity, grant.service_sid, grant.api_key_sid) == ("alice", service_sid, api_key[0])


@pytest.mark.parametrize("case, code", [
    ("expired", 20104), ("not_yet_valid", 20105), ("tampered", 20107), ("wrong_secret", 20107),
    ("wrong_account", 20103), ("unknown_key", 20103), ("no_chat_grant", 20106), ("too_long", 20157),
    ("garbage", 20101), ("bad_header", 20102),
])
def test_verify_refuses(case: str, code: int, mint: Mint, api_key: tuple[str, str]) -> None:
    account = "AC" + "a1" * 16
    key: tuple[str, str] | None = (account, api_key[1])
    token = mint("alice")
    if case == "expired":
        token = mint("alice", ttl=60, valid_until=int(time.time()) - 120)
    elif case == "not_yet_valid":
        token = mint("alice", nbf=int(time.time()) + 600)
    elif case == "tampered":
        head, body, sig = token.split(".")
        claims = jwt.decode(token, options={"verify_signature": False})
        claims["grants"]["identity"] = "mallory"
        forged = jwt.encode(claims, "x" * 32, algorithm="HS256", headers={"cty": "twilio-fpa;v=1"})
        token = ".".join(forged.split(".")[:2] + [sig])
    elif case == "wrong_secret":
        key = (account, "not-the-secret-" + "x" * 32)
    elif case == "wrong_account":
        key = (OTHER_ACCOUNT_SID, api_key[1])
    elif case == "unknown_key":
        key = None
    elif case == "no_chat_grant":
        token = mint("alice", chat=False)
    elif case == "too_long":
        token = mint("alice", ttl=48 * 3600)
    elif case == "garbage":
        token = "not-a-jwt"
    elif case == "bad_header":
        claims = jwt.decode(token, options={"verify_signature": False})
        token = jwt.encode(claims, api_key[1], algorithm="HS256")  # no cty
    with pytest.raises(tokens.TwilioError) as info:
        tokens.verify(token, key)
    assert info.value.code == code and info.value.status == 401


@pytest.mark.parametrize("case, code", [
    ("expired", 20104), ("tampered", 20107), ("wrong_key", 20107), ("wrong_account", 20103),
    ("unknown_key", 20103), ("no_chat_grant", 20106), ("other_accounts_service", 20106), ("garbage", 20101),
])
def test_gateway_refuses_bad_tokens(case: str, code: int, server: Server, mint: Mint, api_key: tuple[str, str],
                                    other_api_key: tuple[str, str]) -> None:
    identity = f"refused-{case}"
    other_service: str = server.client(OTHER_ACCOUNT_SID, "other-account-token-" + "1" * 12) \
        .conversations.v1.configuration().fetch().default_chat_service_sid  # type: ignore[attr-defined]
    token = {
        "expired": lambda: mint(identity, ttl=60, valid_until=int(time.time()) - 120),
        "tampered": lambda: mint(identity)[:-3] + ("AAA" if not mint(identity).endswith("AAA") else "BBB"),
        "wrong_key": lambda: mint(identity, key=(api_key[0], "some-other-secret-" + "y" * 32)),
        "wrong_account": lambda: mint(identity, account_sid=OTHER_ACCOUNT_SID),
        "unknown_key": lambda: mint(identity, key=("SK" + "0" * 32, api_key[1])),
        "no_chat_grant": lambda: mint(identity, chat=False),
        "other_accounts_service": lambda: mint(identity, service=other_service),
        "garbage": lambda: "x.y.z",
    }[case]()
    before = server.count("users"), server.counts()

    async def scenario() -> None:
        with pytest.raises(ChatError) as info:
            await connect(server, token)
        assert info.value.code == code and info.value.status == 401

    run(scenario())
    assert (server.count("users"), server.counts()) == before  # a refused client creates no user


def test_other_account_key_and_service_work(server: Server, mint: Mint, other_api_key: tuple[str, str]) -> None:
    other_service: str = server.client(OTHER_ACCOUNT_SID, "other-account-token-" + "1" * 12) \
        .conversations.v1.configuration().fetch().default_chat_service_sid  # type: ignore[attr-defined]

    async def scenario() -> None:
        client = await connect(server, mint("zoe", key=other_api_key, account_sid=OTHER_ACCOUNT_SID,
                                            service=other_service))
        assert client.identity == "zoe" and client.user is not None and client.user["sid"].startswith("US")
        await client.close()

    run(scenario())


def test_refresh_on_open_connection(server: Server, mint: Mint, ident: Any) -> None:
    alice = ident("alice")

    async def scenario() -> None:
        client = await connect(server, mint(alice, ttl=600))
        await client.update_token(mint(alice, ttl=3600))
        with pytest.raises(ChatError) as info:  # another identity's token cannot take over the connection
            await client.update_token(mint(ident("mallory")))
        assert info.value.code == 20106
        with pytest.raises(ChatError) as info:
            await client.update_token(mint(alice, ttl=60, valid_until=int(time.time()) - 120))
        assert info.value.code == 20104
        # still connected and usable
        result = await client.list_conversations()
        assert result["conversations"] == []
        await client.close()

    run(scenario())


def test_token_expiry_closes_the_connection(server: Server, mint: Mint, ident: Any) -> None:
    alice = ident("alice")

    async def scenario() -> None:
        # expires in ~1 s (LEEWAY 5 s is added by the server, so use an already-expired-by-4 s token)
        token = mint(alice, ttl=60, valid_until=int(time.time()) - 4)
        try:
            client = await connect(server, token, reconnect=True)
        except ChatError as exc:  # a slow machine took the whole second to connect
            assert exc.code == 20104
            return
        for _ in range(100):
            if client.error is not None:
                break
            await _sleep(0.1)
        assert client.error is not None and client.error.code == 20104
        await client.close()

    run(scenario())


async def _sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)
