"""Reachability (`is_online` / `is_notifiable`, only when the service enables it) with `userUpdated` to
the user's conversations, and push registrations: a client registers an APN/FCM device token with a
credential SID, which creates the Binding listed at /v1/Services/{IS}/Bindings; unregistering deletes it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from hubbub.client import ChatError
from tests.conftest import Server
from tests.realtime.conftest import Mint, connect, run


@pytest.fixture
def reachable(server: Server) -> Any:
    rest = server.client().conversations.v1  # type: ignore[attr-defined]
    service = rest.services.create(friendly_name="reachability")
    rest.services(service.sid).configuration().update(reachability_enabled=True)
    return rest.services(service.sid)


def _wait_user(service: Any, identity: str, **expected: Any) -> Any:
    async def poll() -> Any:
        for _ in range(100):
            user = service.users(identity).fetch()
            if all(getattr(user, k) == v for k, v in expected.items()):
                return user
            await asyncio.sleep(0.05)
        raise AssertionError(f"user {identity} never had {expected}: {user.is_online}, {user.is_notifiable}")
    return poll()


def test_online_and_offline(server: Server, mint: Mint, ident: Any, reachable: Any) -> None:
    alice_id, bob_id = ident("alice"), ident("bob")
    conv = reachable.conversations.create(friendly_name="presence")
    reachable.conversations(conv.sid).participants.create(identity=alice_id)
    reachable.conversations(conv.sid).participants.create(identity=bob_id)

    async def scenario() -> None:
        alice = await connect(server, mint(alice_id, service=reachable._solution["sid"]))
        bob = await connect(server, mint(bob_id, service=reachable._solution["sid"]))
        online = await alice.wait_for(lambda e: e.get("event") == "userUpdated"
                                      and e["data"]["user"]["identity"] == bob_id and e["data"]["user"]["is_online"])
        assert online["data"]["user"]["is_notifiable"] is False
        await _wait_user(reachable, bob_id, is_online=True)
        await bob.close()
        await alice.wait_for(lambda e: e.get("event") == "userUpdated" and e["data"]["user"]["identity"] == bob_id
                             and e["data"]["user"]["is_online"] is False)
        await _wait_user(reachable, bob_id, is_online=False)
        await alice.close()

    run(scenario())


def test_reachability_off_by_default(server: Server, mint: Mint, ident: Any, service_sid: str) -> None:
    carl = ident("carl")

    async def scenario() -> None:
        client = await connect(server, mint(carl))
        user = server.client().conversations.v1.services(service_sid).users(carl).fetch()  # type: ignore[attr-defined]
        assert user.is_online is None and user.is_notifiable is None
        await client.close()

    run(scenario())


def test_push_registration(server: Server, mint: Mint, ident: Any, reachable: Any) -> None:
    rest = server.client().conversations.v1  # type: ignore[attr-defined]
    fcm = rest.credentials.create(type="fcm", friendly_name="push", secret="fcm-server-key")
    apn = rest.credentials.create(type="apn", friendly_name="apn", certificate="cert", private_key="key")
    dana = ident("dana")
    service_sid = reachable._solution["sid"]

    async def scenario() -> None:
        client = await connect(server, mint(dana, service=service_sid))
        result = await client.request("register_push", binding_type="fcm", address="device-token-1",
                                      credential_sid=fcm.sid)
        binding = result["binding"]
        assert binding["sid"].startswith("BS") and binding["identity"] == dana
        listed = reachable.bindings.list(identity=[dana])
        assert [(b.sid, b.binding_type, b.credential_sid) for b in listed] == [(binding["sid"], "fcm", fcm.sid)]
        await _wait_user(reachable, dana, is_notifiable=True)
        await client.wait_for(lambda e: e.get("event") == "userUpdated" and e["data"]["user"]["is_notifiable"])

        before = server.count("bindings")
        for params, code in [
            ({"binding_type": "apn", "address": "t", "credential_sid": fcm.sid}, 20001),  # wrong credential type
            ({"binding_type": "apn", "address": "t", "credential_sid": "CR" + "0" * 32}, 20404),
            ({"binding_type": "sms", "address": "t", "credential_sid": apn.sid}, 20001),
            ({"binding_type": "apn", "address": "t", "credential_sid": "nope"}, 20001),
        ]:
            with pytest.raises(ChatError) as info:
                await client.request("register_push", **params)
            assert info.value.code == code
        assert server.count("bindings") == before

        await client.request("unregister_push", binding_type="fcm", address="device-token-1")
        assert reachable.bindings.list(identity=[dana]) == []
        await _wait_user(reachable, dana, is_notifiable=False)
        with pytest.raises(ChatError) as info:
            await client.request("unregister_push", binding_type="fcm", address="device-token-1")
        assert info.value.code == 20404
        await client.close()

    run(scenario())
