"""Client actions fire the service's webhooks with `Source=SDK` and `ClientIdentity`, and a pre-action
webhook can veto them (the client gets an error frame; nothing is written)."""

from __future__ import annotations

from typing import Any

import pytest
from twilio.jwt.access_token import AccessToken
from twilio.jwt.access_token.grants import ChatGrant

from hubbub.actions.accounts import do_create_api_key
from hubbub.client import ChatError
from tests.conftest import ACCOUNT_SID, Server
from tests.realtime.conftest import connect, run
from tests.webhooks.conftest import Hooks, client, receiver, wh_server  # noqa: F401 - fixtures
from tests.webhooks.conftest import hooks as sdk_hooks  # noqa: F401 - fixture
from tests.webhooks.receiver import Reply


def _token(server: Server, service_sid: str, identity: str) -> str:
    with server.engine.begin() as conn:
        key_sid, secret = do_create_api_key(conn, ACCOUNT_SID, "realtime webhook tests")
    token = AccessToken(ACCOUNT_SID, key_sid, secret, identity=identity)
    token.add_grant(ChatGrant(service_sid=service_sid))
    return token.to_jwt()  # type: ignore[no-any-return]


def test_sdk_actions_fire_webhooks_with_client_identity(sdk_hooks: Hooks) -> None:  # noqa: F811
    hooks = sdk_hooks

    async def scenario() -> Any:
        alice = await connect(hooks.server, _token(hooks.server, hooks.service_sid, "alice"))
        conv = await alice.create_conversation(friendly_name="hooked")
        await alice.send_message(conv["sid"], "hello hooks")
        await alice.close()
        return conv

    conv = run(scenario())
    [added] = [r for r in hooks.wait("onMessageAdded") if r.form.get("ConversationSid") == conv["sid"]]
    assert (added.form["Source"], added.form["ClientIdentity"], added.form["Body"], added.form["Author"]) == (
        "SDK", "alice", "hello hooks", "alice")


@pytest.mark.parametrize("status", [403, 500])
def test_pre_webhook_vetoes_a_client_message(sdk_hooks: Hooks, status: int) -> None:  # noqa: F811
    hooks = sdk_hooks
    conv = hooks.conversation(friendly_name="guarded")
    hooks.service.conversations(conv.sid).participants.create(identity="bob")
    hooks.configure(pre=True)
    hooks.receiver.on(hooks.pre_path, lambda rec: Reply(status))

    async def scenario() -> None:
        bob = await connect(hooks.server, _token(hooks.server, hooks.service_sid, "bob"))
        before = hooks.server.counts()
        with pytest.raises(ChatError) as info:
            await bob.send_message(conv.sid, "vetoed")
        assert (info.value.status, info.value.code) == (403, 50070)
        assert hooks.server.counts() == before
        await bob.close()

    run(scenario())
    call = hooks.receiver.events(hooks.pre_path, "onMessageAdd")[-1]
    assert (call.form["Source"], call.form["ClientIdentity"], call.form["Body"]) == ("SDK", "bob", "vetoed")
