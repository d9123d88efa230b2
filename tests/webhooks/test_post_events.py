"""Post-action webhooks: which actions fire, the exact parameters of each event, signatures, methods,
filters and the three levels (account, service, conversation-scoped)."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from twilio.request_validator import RequestValidator

from .conftest import AUTH_TOKEN, POST_FILTERS, Hooks
from .receiver import signature_valid

COMMON = {"AccountSid", "EventType", "Source", "RetryCount", "ChatServiceSid"}
CONVERSATION = {"ConversationSid", "DateCreated", "DateUpdated", "FriendlyName", "UniqueName", "Attributes",
                "ChatServiceSid", "MessagingServiceSid", "State"}
MESSAGE = {"ConversationSid", "MessageSid", "Index", "DateCreated", "DateUpdated", "Body", "Author",
           "ParticipantSid", "Attributes", "Media"}
PARTICIPANT = {"ConversationSid", "ParticipantSid", "DateCreated", "DateUpdated", "Identity", "RoleSid",
               "Attributes", "MessagingBinding.ProxyAddress", "MessagingBinding.Address",
               "MessagingBinding.ProjectedAddress", "MessagingBinding.Type"}


def _keys(rec: Any) -> set[str]:
    return {name for name, _ in rec.params}


def _allowed(event: str) -> set[str]:
    """Twilio's parameter list for the event (twilio-behaviour.md §1.4) plus the common ones."""
    table = {
        "onConversationAdded": CONVERSATION | {"MessagingBinding.ProxyAddress", "MessagingBinding.Address",
                                               "MessagingBinding.ProjectedAddress", "MessagingBinding.AuthorAddress"},
        "onConversationUpdated": CONVERSATION,
        "onConversationRemoved": CONVERSATION | {"DateRemoved"},
        "onConversationStateUpdated": {"ChatServiceSid", "StateUpdated", "StateFrom", "StateTo", "ConversationSid",
                                       "Reason", "MessagingServiceSid"},
        "onMessageAdded": MESSAGE - {"DateUpdated"} | {"MessagingServiceSid"},
        "onMessageUpdated": MESSAGE,
        "onMessageRemoved": MESSAGE | {"DateRemoved"},
        "onParticipantAdded": PARTICIPANT - {"DateUpdated"},
        "onParticipantUpdated": PARTICIPANT | {"LastReadMessageIndex"},
        "onParticipantRemoved": PARTICIPANT | {"DateRemoved"},
    }
    return table[event] | COMMON | {"ClientIdentity"}


def test_message_added_arrives_signed_with_twilio_parameters(hooks: Hooks, wh_server: Any) -> None:
    conv = hooks.conversation(friendly_name="signed")
    conv.participants.create(identity="alice", x_twilio_webhook_enabled="true")
    message = conv.messages.create(author="alice", body="Hello, webhook!", attributes='{"k": 1}',
                                   x_twilio_webhook_enabled="true")
    rec = hooks.wait("onMessageAdded")[0]
    form = rec.form
    assert rec.method == "POST"
    assert rec.headers["content-type"].startswith("application/x-www-form-urlencoded")
    assert form["AccountSid"] == wh_server.account_sid
    assert form["EventType"] == "onMessageAdded"
    assert form["Source"] == "API"
    assert form["RetryCount"] == "0"
    assert form["ChatServiceSid"] == hooks.service_sid
    assert form["ConversationSid"] == conv.sid
    assert form["MessageSid"] == message.sid
    assert form["Index"] == "0"
    assert form["Body"] == "Hello, webhook!"
    assert form["Author"] == "alice"
    assert form["ParticipantSid"] == message.participant_sid
    assert json.loads(form["Attributes"]) == {"k": 1}
    assert form["DateCreated"] == message.date_created.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert "ClientIdentity" not in form  # REST actions have no client identity
    assert _keys(rec) <= _allowed("onMessageAdded")
    assert rec.token and rec.token.startswith("WD")
    # the official validator accepts the signature, made with the account's Auth Token
    assert signature_valid(hooks.receiver, rec, AUTH_TOKEN)
    assert not signature_valid(hooks.receiver, rec, "some-other-token-00000000000000")


def test_rest_actions_fire_only_with_the_webhook_header(hooks: Hooks) -> None:
    conv = hooks.service.conversations.create(friendly_name="quiet")  # no header: no webhook
    conv.messages.create(author="bob", body="not announced")
    conv.messages.create(author="bob", body="announced", x_twilio_webhook_enabled="true")
    conv.update(friendly_name="quiet 2", x_twilio_webhook_enabled="false")
    conv.messages.create(author="bob", body="announced too", x_twilio_webhook_enabled="true")
    received = hooks.wait("onMessageAdded", 2)
    # first attempts of one conversation arrive in commit order, so nothing else can still be on its way
    assert [r.form["Body"] for r in hooks.events()] == ["announced", "announced too"]
    assert [r.form["Index"] for r in received] == ["1", "2"]


def test_every_event_type_has_its_parameters(hooks: Hooks, client: Any) -> None:
    conv = hooks.conversation(friendly_name="lifecycle", unique_name=f"u-{hooks.service_sid}",
                              attributes='{"a": true}')
    alice = conv.participants.create(identity="alice", attributes='{"p": 1}', x_twilio_webhook_enabled="true")
    sms = conv.participants.create(messaging_binding_address="+15005550100",
                                   messaging_binding_proxy_address="+15005550199", x_twilio_webhook_enabled="true")
    msg = conv.messages.create(author="alice", body="one", x_twilio_webhook_enabled="true")
    conv.messages(msg.sid).update(body="one (edited)", x_twilio_webhook_enabled="true")
    alice.update(attributes='{"p": 2}', last_read_message_index=0, x_twilio_webhook_enabled="true")
    conv.update(friendly_name="lifecycle 2", x_twilio_webhook_enabled="true")
    conv.update(state="inactive", x_twilio_webhook_enabled="true")
    # twilio-python's delete() drops its x_twilio_webhook_enabled argument, so deletes go over raw HTTP
    hooks.delete(f"/Conversations/{conv.sid}/Messages/{msg.sid}")
    hooks.delete(f"/Conversations/{conv.sid}/Participants/{sms.sid}")
    hooks.delete(f"/Conversations/{conv.sid}")
    hooks.wait("onConversationRemoved")
    events = [r.form["EventType"] for r in hooks.events()]
    assert events == ["onConversationAdded", "onParticipantAdded", "onParticipantAdded", "onMessageAdded",
                      "onMessageUpdated", "onParticipantUpdated", "onConversationUpdated", "onConversationUpdated",
                      "onConversationStateUpdated", "onMessageRemoved", "onParticipantRemoved",
                      "onConversationRemoved"]
    for rec in hooks.events():
        assert _keys(rec) <= _allowed(rec.form["EventType"]), rec.form
        assert signature_valid(hooks.receiver, rec, AUTH_TOKEN)
    by_type: dict[str, list[dict[str, str]]] = {}
    for rec in hooks.events():
        by_type.setdefault(rec.form["EventType"], []).append(rec.form)
    added = by_type["onConversationAdded"][0]
    assert (added["ConversationSid"], added["FriendlyName"], added["State"]) == (conv.sid, "lifecycle", "active")
    assert added["UniqueName"] == f"u-{hooks.service_sid}"
    chat, phone = by_type["onParticipantAdded"]
    assert (chat["Identity"], chat["MessagingBinding.Type"], chat["ParticipantSid"]) == ("alice", "CHAT", alice.sid)
    assert "MessagingBinding.Address" not in chat
    assert (phone["MessagingBinding.Address"], phone["MessagingBinding.ProxyAddress"],
            phone["MessagingBinding.Type"]) == ("+15005550100", "+15005550199", "SMS")
    assert by_type["onMessageUpdated"][0]["Body"] == "one (edited)"
    assert by_type["onParticipantUpdated"][0]["LastReadMessageIndex"] == "0"
    state = by_type["onConversationStateUpdated"][0]
    assert (state["StateFrom"], state["StateTo"], state["Reason"]) == ("active", "inactive", "API")
    assert by_type["onMessageRemoved"][0]["MessageSid"] == msg.sid and by_type["onMessageRemoved"][0]["DateRemoved"]
    assert by_type["onParticipantRemoved"][0]["ParticipantSid"] == sms.sid
    assert by_type["onConversationRemoved"][0]["DateRemoved"]


def test_new_message_reactivates_an_inactive_conversation_with_reason_event(hooks: Hooks) -> None:
    conv = hooks.conversation(friendly_name="sleepy", state="inactive")
    conv.messages.create(author="bob", body="wake up", x_twilio_webhook_enabled="true")
    hooks.wait("onMessageAdded")
    state = hooks.events("onConversationStateUpdated")
    assert [(s.form["StateFrom"], s.form["StateTo"], s.form["Reason"]) for s in state] == [
        ("inactive", "active", "EVENT")]
    assert conv.fetch().state == "active"


def test_filters_are_an_allow_list(hooks: Hooks) -> None:
    hooks.configure(filters=["onMessageAdded"])
    conv = hooks.conversation(friendly_name="filtered")
    conv.update(friendly_name="filtered 2", x_twilio_webhook_enabled="true")
    conv.messages.create(author="bob", body="only me", x_twilio_webhook_enabled="true")
    hooks.wait("onMessageAdded")
    assert [r.form["EventType"] for r in hooks.events()] == ["onMessageAdded"]
    hooks.configure(filters=[""])  # an empty allow-list: nothing fires
    conv.messages.create(author="bob", body="silent", x_twilio_webhook_enabled="true")
    assert hooks.deliveries(EventType="onMessageAdded", ConversationSid=conv.sid)[0]["parameters"]["Body"] == "only me"


def test_get_method_sends_parameters_in_the_signed_query_string(hooks: Hooks) -> None:
    hooks.configure(method="GET", filters=["onMessageAdded"])
    conv = hooks.conversation(friendly_name="by GET")
    conv.messages.create(author="bob", body="a & b = c?", x_twilio_webhook_enabled="true")
    rec = hooks.wait("onMessageAdded")[0]
    assert rec.method == "GET"
    assert rec.form["Body"] == "a & b = c?"
    validator = RequestValidator(AUTH_TOKEN)
    assert validator.validate(hooks.receiver.url(rec.path), {}, rec.headers["x-twilio-signature"])


def test_first_attempts_of_a_conversation_arrive_in_commit_order(hooks: Hooks) -> None:
    hooks.configure(filters=["onMessageAdded"])
    conv = hooks.conversation(friendly_name="ordered")
    errors: list[BaseException] = []

    def post(n: int) -> None:
        try:
            for i in range(10):
                conv.messages.create(author=f"writer{n}", body=f"{n}-{i}", x_twilio_webhook_enabled="true")
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=post, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    received = hooks.wait("onMessageAdded", 40)
    indices = [int(r.form["Index"]) for r in received]
    assert indices == sorted(indices) == list(range(40))


def test_account_level_webhook_and_user_events(hooks: Hooks, wh_server: Any, client: Any) -> None:
    path = hooks.post_path + "/account"
    account = client.conversations.v1.configuration.webhooks()
    account.update(post_webhook_url=hooks.receiver.url(path), filters=["onUserAdded", "onUserUpdated"],
                   method="POST", target="webhook")
    try:
        user = hooks.service.users.create(identity="webhook-user", friendly_name="U",
                                          x_twilio_webhook_enabled="true")
        hooks.service.users(user.sid).update(friendly_name="U2", x_twilio_webhook_enabled="true")
        added, updated = (hooks.receiver.wait_for(path, 1, "onUserAdded")[0],
                          hooks.receiver.wait_for(path, 1, "onUserUpdated")[0])
    finally:
        account.update(post_webhook_url="", filters=[""])
    assert (added.form["UserSid"], added.form["Identity"], added.form["FriendlyName"]) == (
        user.sid, "webhook-user", "U")
    assert added.form["ChatServiceSid"] == hooks.service_sid
    assert set(added.form) <= {"AccountSid", "EventType", "Source", "RetryCount", "ChatServiceSid", "UserSid",
                               "DateCreated", "Identity", "RoleSid", "Attributes", "FriendlyName"}
    assert updated.form["FriendlyName"] == "U2"
    assert set(updated.form) <= {"AccountSid", "EventType", "Source", "RetryCount", "ChatServiceSid", "UserSid",
                                 "DateCreated", "DateUpdated", "Identity", "RoleSid", "Attributes", "FriendlyName",
                                 "isOnline", "isNotifiable"}
    # the service level has no user events
    assert not hooks.events("onUserAdded")


def test_account_and_service_level_with_the_same_url_deliver_once(hooks: Hooks, client: Any) -> None:
    hooks.configure(filters=["onMessageAdded"])
    account = client.conversations.v1.configuration.webhooks()
    account.update(post_webhook_url=hooks.receiver.url(hooks.post_path), filters=["onMessageAdded"], method="POST")
    try:
        conv = hooks.conversation(friendly_name="twice?")
        conv.messages.create(author="bob", body="once", x_twilio_webhook_enabled="true")
        conv.messages.create(author="bob", body="again", x_twilio_webhook_enabled="true")
        hooks.wait("onMessageAdded", 2)
    finally:
        account.update(post_webhook_url="", filters=[""])
    assert [r.form["Body"] for r in hooks.events()] == ["once", "again"]


@pytest.mark.parametrize("method", ["post", "get"])
def test_conversation_scoped_webhook(hooks: Hooks, method: str) -> None:
    hooks.configure(post=False)
    conv = hooks.conversation(friendly_name="scoped")
    path = hooks.post_path + "/scoped"
    hook = conv.webhooks.create(target="webhook", configuration_url=hooks.receiver.url(path),
                                configuration_method=method,
                                configuration_filters=["onMessageAdded", "onParticipantAdded"])
    conv.participants.create(identity="zed", x_twilio_webhook_enabled="true")
    conv.update(friendly_name="not in the filters", x_twilio_webhook_enabled="true")
    conv.messages.create(author="zed", body="scoped hello", x_twilio_webhook_enabled="true")
    hooks.receiver.wait_for(path, 1, "onMessageAdded")
    received = hooks.receiver.at(path)
    assert [r.form["EventType"] for r in received] == ["onParticipantAdded", "onMessageAdded"]
    assert all(r.method == method.upper() for r in received)
    assert received[1].form["WebhookSid"] == hook.sid and received[1].form["WebhookType"] == "webhook"
    assert all(signature_valid(hooks.receiver, r, AUTH_TOKEN) for r in received)


def test_conversation_removed_reaches_scoped_webhooks(hooks: Hooks) -> None:
    hooks.configure(post=False)
    conv = hooks.conversation(friendly_name="doomed")
    path = hooks.post_path + "/scoped"
    conv.webhooks.create(target="webhook", configuration_url=hooks.receiver.url(path),
                         configuration_filters=["onConversationRemoved"])
    hooks.delete(f"/Conversations/{conv.sid}")
    rec = hooks.receiver.wait_for(path, 1, "onConversationRemoved")[0]
    assert rec.form["ConversationSid"] == conv.sid


def test_trigger_webhook_fires_on_matching_keywords_only(hooks: Hooks) -> None:
    hooks.configure(post=False)
    conv = hooks.conversation(friendly_name="triggers")
    path = hooks.post_path + "/trigger"
    hook = conv.webhooks.create(target="trigger", configuration_url=hooks.receiver.url(path),
                                configuration_triggers=["help", "agent please"])
    for body in ("hello", "HELP", "helpless", "Agent please now", "help me"):
        conv.messages.create(author="bob", body=body, x_twilio_webhook_enabled="true")
    hooks.receiver.wait_for(path, 3)
    deliveries = hooks.deliveries(ConversationSid=conv.sid)
    assert sorted(d["parameters"]["Body"] for d in deliveries) == ["Agent please now", "HELP", "help me"]
    assert [r.form["Body"] for r in hooks.receiver.at(path)] == ["HELP", "Agent please now", "help me"]
    assert hooks.receiver.at(path)[0].form["WebhookType"] == "trigger"
    assert hooks.receiver.at(path)[0].form["WebhookSid"] == hook.sid


def test_studio_webhook_without_a_flow_url_is_reported_unsupported(hooks: Hooks) -> None:
    hooks.configure(post=False)
    conv = hooks.conversation(friendly_name="studio")
    conv.webhooks.create(target="studio", configuration_flow_sid="FW" + "0" * 32)
    conv.messages.create(author="bob", body="to the flow", x_twilio_webhook_enabled="true")
    deliveries = hooks.deliveries(ConversationSid=conv.sid)
    assert [(d["target"], d["status"], d["webhook_url"]) for d in deliveries] == [("studio", "unsupported", None)]
    assert "HUBBUB_STUDIO_FLOW_URL" in deliveries[0]["last_error"]


def test_replay_after_sends_existing_messages_to_a_new_scoped_webhook(hooks: Hooks) -> None:
    hooks.configure(post=False)
    conv = hooks.conversation(friendly_name="replay")
    for n in range(5):
        conv.messages.create(author="bob", body=f"old {n}")  # before the webhook, without the header
    path = hooks.post_path + "/replay"
    conv.webhooks.create(target="webhook", configuration_url=hooks.receiver.url(path),
                         configuration_filters=["onMessageAdded"], configuration_replay_after=2)
    conv.messages.create(author="bob", body="new", x_twilio_webhook_enabled="true")
    received = hooks.receiver.wait_for(path, 4)
    assert [r.form["Body"] for r in received] == ["old 2", "old 3", "old 4", "new"]
    assert [r.form["Index"] for r in received] == ["2", "3", "4", "5"]


def test_post_filters_cover_every_post_event() -> None:
    from hubbub.webhooks.payloads import EVENT_PARAMS, POST_EVENTS

    assert set(POST_FILTERS) <= POST_EVENTS
    assert {"onUserAdded", "onUserUpdated"} <= POST_EVENTS
    assert set(EVENT_PARAMS) - POST_EVENTS == {
        "onConversationAdd", "onConversationUpdate", "onConversationRemove", "onMessageAdd", "onMessageUpdate",
        "onMessageRemove", "onParticipantAdd", "onParticipantUpdate", "onParticipantRemove", "onUserUpdate"}
