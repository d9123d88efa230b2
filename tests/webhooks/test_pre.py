"""Pre-action webhooks: called before the write; reject (4xx/5xx), modify (2xx JSON), or time out and
let the action proceed unmodified."""

from __future__ import annotations

import json
from typing import Any

import pytest
from twilio.base.exceptions import TwilioRestException

from .conftest import AUTH_TOKEN, Hooks
from .receiver import Reply, signature_valid


def _counts(hooks: Hooks) -> dict[str, int]:
    counts = hooks.server.counts()
    counts["users"] = hooks.server.count("users")
    return counts


@pytest.fixture
def pre(hooks: Hooks) -> Hooks:
    hooks.configure(pre=True)
    return hooks


def _rejected(info: pytest.ExceptionInfo[TwilioRestException]) -> None:
    assert (info.value.status, info.value.code) == (403, 50070), info.value.msg


@pytest.mark.parametrize("status", [400, 403, 500, 503])
def test_reject_message_add(pre: Hooks, status: int) -> None:
    conv = pre.conversation(friendly_name="guarded")
    pre.receiver.on(pre.pre_path, lambda rec: Reply(status))
    before = _counts(pre)
    with pytest.raises(TwilioRestException) as info:
        conv.messages.create(author="bob", body="forbidden", x_twilio_webhook_enabled="true")
    _rejected(info)
    assert _counts(pre) == before  # nothing written, no event
    call = pre.receiver.events(pre.pre_path, "onMessageAdd")[-1]
    form = call.form
    assert (form["Body"], form["Author"], form["ConversationSid"], form["Source"]) == (
        "forbidden", "bob", conv.sid, "API")
    assert set(form) <= {"AccountSid", "EventType", "Source", "RetryCount", "ChatServiceSid", "ConversationSid",
                         "Body", "Author", "ParticipantSid", "Attributes", "Media", "ClientIdentity"}
    assert signature_valid(pre.receiver, call, AUTH_TOKEN)


def test_modify_message_add(pre: Hooks) -> None:
    conv = pre.conversation(friendly_name="edited")
    pre.receiver.on(pre.pre_path, lambda rec: Reply(200, json.dumps(
        {"body": rec.form["Body"].upper(), "author": "moderator", "attributes": '{"checked": true}'}).encode()))
    message = conv.messages.create(author="bob", body="please shout", x_twilio_webhook_enabled="true")
    assert (message.body, message.author, json.loads(message.attributes)) == (
        "PLEASE SHOUT", "moderator", {"checked": True})
    post = pre.wait("onMessageAdded")[0]
    assert (post.form["Body"], post.form["Author"]) == ("PLEASE SHOUT", "moderator")


def test_empty_or_unrelated_answers_change_nothing(pre: Hooks) -> None:
    conv = pre.conversation(friendly_name="plain")
    for answer in (b"", b"{}", b"not json", b'["a list"]', b'{"unknown": 1}'):
        pre.receiver.on(pre.pre_path, lambda rec, answer=answer: Reply(200, answer))
        message = conv.messages.create(author="bob", body="as is", x_twilio_webhook_enabled="true")
        assert (message.body, message.author) == ("as is", "bob")


def test_invalid_modification_is_the_callers_error(pre: Hooks) -> None:
    conv = pre.conversation(friendly_name="invalid")
    pre.receiver.on(pre.pre_path, lambda rec: Reply(200, b'{"attributes": "{not json"}'))
    before = _counts(pre)
    with pytest.raises(TwilioRestException) as info:
        conv.messages.create(author="bob", body="x", x_twilio_webhook_enabled="true")
    assert (info.value.status, info.value.code) == (400, 50006)
    pre.receiver.on(pre.pre_path, lambda rec: Reply(200, b'{"body": 42}'))
    with pytest.raises(TwilioRestException) as info:
        conv.messages.create(author="bob", body="x", x_twilio_webhook_enabled="true")
    assert (info.value.status, info.value.code) == (400, 20001)
    assert _counts(pre) == before


def test_timeout_proceeds_unmodified(pre: Hooks) -> None:
    conv = pre.conversation(friendly_name="slow hook")
    # the test server waits 1 s (HUBBUB_PRE_WEBHOOK_TIMEOUT); this answer would reject, but comes too late
    pre.receiver.on(pre.pre_path, lambda rec: Reply(500, delay=2.5))
    message = conv.messages.create(author="bob", body="on time", x_twilio_webhook_enabled="true")
    assert message.body == "on time"
    attempts = pre.server.http("GET", "/hubbub/v1/WebhookAttempts",
                               params={"Kind": "pre", "WebhookUrl": pre.receiver.url(pre.pre_path)}).json()
    assert attempts["attempts"][0]["success"] is False
    assert attempts["attempts"][0]["error"].startswith("timeout")


def test_unreachable_pre_webhook_proceeds(hooks: Hooks) -> None:
    hooks.service.configuration.webhooks().update(pre_webhook_url="http://127.0.0.1:9/nothing-here",
                                                  filters=["onMessageAdd"])
    conv = hooks.conversation(friendly_name="unreachable")
    assert conv.messages.create(author="bob", body="still sent", x_twilio_webhook_enabled="true").body == "still sent"


def test_modify_conversation_add_and_update(pre: Hooks) -> None:
    pre.receiver.on(pre.pre_path, lambda rec: Reply(200, json.dumps(
        {"friendly_name": f"[{rec.form['EventType']}] {rec.form.get('FriendlyName', '')}"}).encode()))
    conv = pre.conversation(friendly_name="room")
    assert conv.friendly_name == "[onConversationAdd] room"
    add = pre.receiver.events(pre.pre_path, "onConversationAdd")[0].form
    assert "ConversationSid" not in add and add["State"] == "active" and add["ChatServiceSid"] == pre.service_sid
    updated = conv.update(friendly_name="renamed", x_twilio_webhook_enabled="true")
    assert updated.friendly_name == "[onConversationUpdate] renamed"
    update = pre.receiver.events(pre.pre_path, "onConversationUpdate")[0].form
    assert update["ConversationSid"] == conv.sid


def test_rejects_of_every_pre_event(pre: Hooks) -> None:
    conv = pre.conversation(friendly_name="every")
    alice = conv.participants.create(identity="alice", x_twilio_webhook_enabled="true")
    msg = conv.messages.create(author="alice", body="hi", x_twilio_webhook_enabled="true")
    user = pre.service.users.create(identity="pre-user")
    pre.receiver.on(pre.pre_path, lambda rec: Reply(409))
    before = _counts(pre)
    base = f"/v1/Services/{pre.service_sid}/Conversations/{conv.sid}"
    attempts: list[tuple[str, Any]] = [
        ("onConversationAdd", lambda: pre.conversation(friendly_name="no")),
        ("onConversationUpdate", lambda: conv.update(friendly_name="no", x_twilio_webhook_enabled="true")),
        ("onParticipantAdd", lambda: conv.participants.create(identity="bob", x_twilio_webhook_enabled="true")),
        ("onParticipantUpdate", lambda: alice.update(attributes='{"x": 1}', x_twilio_webhook_enabled="true")),
        ("onMessageUpdate", lambda: conv.messages(msg.sid).update(body="no", x_twilio_webhook_enabled="true")),
        ("onUserUpdate", None),
    ]
    for event, action in attempts:
        if action is None:
            continue
        with pytest.raises(TwilioRestException) as info:
            action()
        _rejected(info)
        assert pre.receiver.events(pre.pre_path, event), event
    for event, path in (("onMessageRemove", f"{base}/Messages/{msg.sid}"),
                        ("onParticipantRemove", f"{base}/Participants/{alice.sid}"),
                        ("onConversationRemove", base)):
        response = pre.server.http("DELETE", path, headers={"X-Twilio-Webhook-Enabled": "true"})
        assert (response.status_code, response.json()["code"]) == (403, 50070), event
        assert pre.receiver.events(pre.pre_path, event), event
    assert _counts(pre) == before
    assert conv.fetch().friendly_name == "every"
    assert conv.messages(msg.sid).fetch().body == "hi"
    # onUserUpdate is an account-level event only
    account = pre.client.conversations.v1.configuration.webhooks()
    path = pre.pre_path + "/account"
    account.update(pre_webhook_url=pre.receiver.url(path), filters=["onUserUpdate"], method="POST")
    pre.receiver.on(path, lambda rec: Reply(400))
    try:
        with pytest.raises(TwilioRestException) as info:
            pre.service.users(user.sid).update(friendly_name="no", x_twilio_webhook_enabled="true")
        _rejected(info)
        form = pre.receiver.events(path, "onUserUpdate")[0].form
        assert (form["UserSid"], form["Identity"], form["FriendlyName"]) == (user.sid, "pre-user", "no")
    finally:
        account.update(pre_webhook_url="", filters=[""])
    assert pre.service.users(user.sid).fetch().friendly_name is None


def test_no_header_no_pre_call(pre: Hooks) -> None:
    conv = pre.service.conversations.create(friendly_name="rest only")
    pre.receiver.on(pre.pre_path, lambda rec: Reply(500))
    conv.messages.create(author="bob", body="not checked")  # REST without the header: no webhooks
    assert conv.messages.list()[0].body == "not checked"
    assert not pre.receiver.at(pre.pre_path)


def test_pre_event_not_in_filters_is_not_called(pre: Hooks) -> None:
    pre.configure(pre=True, filters=["onMessageAdded"])
    pre.receiver.on(pre.pre_path, lambda rec: Reply(500))
    conv = pre.conversation(friendly_name="unfiltered")
    conv.messages.create(author="bob", body="ok", x_twilio_webhook_enabled="true")
    assert not pre.receiver.at(pre.pre_path)
