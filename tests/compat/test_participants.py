"""Participants through the official SDK: chat, SMS, WhatsApp and Group MMS participants, identities as
identifiers, the number-pair rule and the participant limits."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

import pytest

from .helpers import assert_error_body, new_number, nothing_written, twilio_error

MB_RE = re.compile(r"^MB[0-9a-f]{32}$")
RL_RE = re.compile(r"^RL[0-9a-f]{32}$")


def participants_of(client: Any, conversation_sid: str) -> Any:
    return client.conversations.v1.conversations(conversation_sid).participants


# -- chat participants ---------------------------------------------------------------------------------


def test_chat_participant_shape(server: Any, client: Any, conversation: Any) -> None:
    p = participants_of(client, conversation.sid).create(identity="alice", attributes='{"vip": true}')
    assert MB_RE.match(p.sid)
    assert p.account_sid == server.account_sid
    assert p.conversation_sid == conversation.sid
    assert p.identity == "alice"
    assert json.loads(p.attributes) == {"vip": True}
    assert p.messaging_binding is None
    assert RL_RE.match(p.role_sid)  # the service's default conversation role
    assert p.last_read_message_index is None and p.last_read_timestamp is None
    assert p.date_created is not None and p.date_created == p.date_updated
    assert p.url == f"{server.url}/v1/Conversations/{conversation.sid}/Participants/{p.sid}"


def test_fetch_by_sid_and_by_identity(client: Any, conversation: Any) -> None:
    p = participants_of(client, conversation.sid).create(identity="bob")
    assert participants_of(client, conversation.sid)(p.sid).fetch().identity == "bob"
    assert participants_of(client, conversation.sid)("bob").fetch().sid == p.sid
    with twilio_error(404, 20404):
        participants_of(client, conversation.sid)("nobody").fetch()
    with twilio_error(404, 20404):
        participants_of(client, conversation.sid)("MB" + "0" * 32).fetch()


@pytest.mark.parametrize(
    "identity", ["carol+work@example.com", "urn:user:42", "Carol Jones", "d+e@f.example:desk 9", "Zoë 😀"]
)
def test_identity_with_reserved_characters(
    server: Any, client: Any, conversation: Any, identity: str
) -> None:
    p = participants_of(client, conversation.sid).create(identity=identity)
    assert p.identity == identity
    # the SDK sends the identity in the path as it is
    assert participants_of(client, conversation.sid)(identity).fetch().sid == p.sid
    # and a fully percent-encoded path reaches the same participant
    response = server.http(
        "GET", f"/v1/Conversations/{conversation.sid}/Participants/{quote(identity, safe='')}"
    )
    assert response.status_code == 200
    assert (response.json()["sid"], response.json()["identity"]) == (p.sid, identity)


def test_list_participants_across_pages(client: Any, conversation: Any) -> None:
    made = [participants_of(client, conversation.sid).create(identity=f"user{i}").sid for i in range(5)]
    assert [p.sid for p in participants_of(client, conversation.sid).stream(page_size=2)] == made
    assert [p.sid for p in participants_of(client, conversation.sid).list(limit=3)] == made[:3]


def test_update_participant(client: Any, conversation: Any) -> None:
    p = participants_of(client, conversation.sid).create(identity="dana")
    ctx = participants_of(client, conversation.sid)(p.sid)
    updated = ctx.update(
        attributes='{"seat": 3}', last_read_message_index=7, last_read_timestamp="2024-01-02T03:04:05Z"
    )
    assert updated.attributes == '{"seat": 3}'
    assert updated.last_read_message_index == 7
    assert updated.last_read_timestamp == "2024-01-02T03:04:05Z"
    assert updated.role_sid == p.role_sid
    renamed = participants_of(client, conversation.sid)("dana").update(identity="dana2")
    assert renamed.identity == "dana2"
    fetched = ctx.fetch()
    assert (fetched.identity, fetched.attributes, fetched.last_read_message_index) == (
        "dana2",
        '{"seat": 3}',
        7,
    )


def test_delete_participant(server: Any, client: Any, conversation: Any) -> None:
    p = participants_of(client, conversation.sid).create(identity="erin")
    assert participants_of(client, conversation.sid)(p.sid).delete() is True
    with twilio_error(404, 20404):
        participants_of(client, conversation.sid)(p.sid).fetch()
    with twilio_error(404, 20404):
        participants_of(client, conversation.sid)(p.sid).delete()
    assert participants_of(client, conversation.sid).list() == []
    # the identity is free again
    assert participants_of(client, conversation.sid).create(identity="erin").sid != p.sid


def test_duplicate_identity_is_a_conflict(server: Any, client: Any, conversation: Any) -> None:
    participants_of(client, conversation.sid).create(identity="frank")
    other = participants_of(client, conversation.sid).create(identity="grace")
    with nothing_written(server):
        with twilio_error(409, 50433):
            participants_of(client, conversation.sid).create(identity="frank")
        with twilio_error(409, 50433):
            participants_of(client, conversation.sid)(other.sid).update(identity="frank")
    assert participants_of(client, conversation.sid)(other.sid).fetch().identity == "grace"


def test_the_same_identity_may_join_other_conversations(client: Any, conversations: Any) -> None:
    first, second = conversations.create(), conversations.create()
    a = participants_of(client, first.sid).create(identity="heidi")
    b = participants_of(client, second.sid).create(identity="heidi")
    assert a.sid != b.sid


def test_participant_of_another_conversation_is_404(client: Any, conversations: Any) -> None:
    first, second = conversations.create(), conversations.create()
    p = participants_of(client, first.sid).create(identity="ivan")
    with twilio_error(404, 20404):
        participants_of(client, second.sid)(p.sid).fetch()
    with twilio_error(404, 20404):
        participants_of(client, second.sid)(p.sid).delete()
    assert participants_of(client, first.sid)(p.sid).fetch().sid == p.sid


# -- SMS, WhatsApp, Group MMS --------------------------------------------------------------------------


def test_sms_participant(server: Any, client: Any, conversation: Any) -> None:
    proxy = new_number()
    # Twilio's documentation example number (a 555 number) must be accepted
    p = participants_of(client, conversation.sid).create(
        messaging_binding_address="+15558675310", messaging_binding_proxy_address=proxy
    )
    assert p.identity is None
    assert p.messaging_binding == {"type": "sms", "address": "+15558675310", "proxy_address": proxy}
    assert participants_of(client, conversation.sid)(p.sid).fetch().messaging_binding == p.messaging_binding


def test_whatsapp_participant(client: Any, conversation: Any) -> None:
    address, proxy = "whatsapp:" + new_number(), "whatsapp:" + new_number()
    p = participants_of(client, conversation.sid).create(
        messaging_binding_address=address, messaging_binding_proxy_address=proxy
    )
    assert p.identity is None
    assert p.messaging_binding == {"type": "whatsapp", "address": address, "proxy_address": proxy}


def test_group_mms_participants(client: Any, conversation: Any) -> None:
    projected = new_number()
    agent = participants_of(client, conversation.sid).create(
        identity="agent-1", messaging_binding_projected_address=projected
    )
    assert agent.identity == "agent-1"
    assert agent.messaging_binding == {"type": "sms", "projected_address": projected}
    consumer_number = new_number()
    consumer = participants_of(client, conversation.sid).create(messaging_binding_address=consumer_number)
    assert consumer.messaging_binding == {"type": "sms", "address": consumer_number}


def test_projected_address_can_be_changed_and_removed(client: Any, conversation: Any) -> None:
    agent = participants_of(client, conversation.sid).create(
        identity="agent-2", messaging_binding_projected_address=new_number()
    )
    ctx = participants_of(client, conversation.sid)(agent.sid)
    number = new_number()
    assert ctx.update(messaging_binding_projected_address=number).messaging_binding == {
        "type": "sms",
        "projected_address": number,
    }
    # the literal 'null' removes it, leaving a plain chat participant
    assert ctx.update(messaging_binding_projected_address="null").messaging_binding is None


@pytest.mark.parametrize(
    "address",
    [
        "5558675310",
        "+1",
        "+1555",
        "+15558675310123456",
        "hello",
        "+1555867531O",
        "whatsapp:hello",
        "sms:+15558675310",
        "",
    ],
)
def test_invalid_address_is_50407(server: Any, client: Any, conversation: Any, address: str) -> None:
    with nothing_written(server), twilio_error(400, 50407):
        participants_of(client, conversation.sid).create(
            messaging_binding_address=address, messaging_binding_proxy_address=new_number()
        )


def test_invalid_binding_combinations_are_50407(server: Any, client: Any, conversation: Any) -> None:
    create = participants_of(client, conversation.sid).create
    with nothing_written(server):
        with twilio_error(400, 50407):  # neither identity nor address
            create(attributes="{}")
        with twilio_error(400, 50407):  # both
            create(
                identity="x",
                messaging_binding_address=new_number(),
                messaging_binding_proxy_address=new_number(),
            )
        with twilio_error(400, 50407):  # a WhatsApp user through an SMS number
            create(
                messaging_binding_address="whatsapp:" + new_number(),
                messaging_binding_proxy_address=new_number(),
            )
        with twilio_error(400, 50407):  # a WhatsApp address needs its proxy
            create(messaging_binding_address="whatsapp:" + new_number())
        with twilio_error(400, 50407):  # proxy without an address
            create(identity="y", messaging_binding_proxy_address=new_number())
        with twilio_error(400, 50407):
            create(messaging_binding_address=new_number(), messaging_binding_proxy_address="not-a-number")


# -- the number-pair rule ------------------------------------------------------------------------------


def test_number_pair_is_bound_to_one_active_conversation(
    server: Any, client: Any, conversations: Any
) -> None:
    first, second = conversations.create(), conversations.create()
    address, proxy = new_number(), new_number()
    participants_of(client, first.sid).create(
        messaging_binding_address=address, messaging_binding_proxy_address=proxy
    )
    with nothing_written(server):
        with twilio_error(409, 50416):
            participants_of(client, second.sid).create(
                messaging_binding_address=address, messaging_binding_proxy_address=proxy
            )
        with twilio_error(409, 50437):
            participants_of(client, first.sid).create(
                messaging_binding_address=address, messaging_binding_proxy_address=proxy
            )
    # the same person through another Twilio number, and another person through the same number, are fine
    participants_of(client, second.sid).create(
        messaging_binding_address=address, messaging_binding_proxy_address=new_number()
    )
    participants_of(client, second.sid).create(
        messaging_binding_address=new_number(), messaging_binding_proxy_address=proxy
    )


def test_inactive_conversations_keep_the_pair(client: Any, conversations: Any) -> None:
    first, second = conversations.create(state="inactive"), conversations.create()
    address, proxy = new_number(), new_number()
    participants_of(client, first.sid).create(
        messaging_binding_address=address, messaging_binding_proxy_address=proxy
    )
    with twilio_error(409, 50416):
        participants_of(client, second.sid).create(
            messaging_binding_address=address, messaging_binding_proxy_address=proxy
        )


@pytest.mark.parametrize("channel", ["", "whatsapp:"], ids=["sms", "whatsapp"])
def test_closing_a_conversation_releases_its_pair(client: Any, conversations: Any, channel: str) -> None:
    first, second = conversations.create(), conversations.create()
    address, proxy = channel + new_number(), channel + new_number()
    participants_of(client, first.sid).create(
        messaging_binding_address=address, messaging_binding_proxy_address=proxy
    )
    with twilio_error(409, 50416):
        participants_of(client, second.sid).create(
            messaging_binding_address=address, messaging_binding_proxy_address=proxy
        )
    client.conversations.v1.conversations(first.sid).update(state="closed")
    p = participants_of(client, second.sid).create(
        messaging_binding_address=address, messaging_binding_proxy_address=proxy
    )
    assert p.messaging_binding["address"] == address


def test_removing_the_participant_releases_its_pair(client: Any, conversations: Any) -> None:
    first, second = conversations.create(), conversations.create()
    address, proxy = new_number(), new_number()
    p = participants_of(client, first.sid).create(
        messaging_binding_address=address, messaging_binding_proxy_address=proxy
    )
    assert participants_of(client, first.sid)(p.sid).delete() is True
    participants_of(client, second.sid).create(
        messaging_binding_address=address, messaging_binding_proxy_address=proxy
    )


def test_moving_a_proxy_onto_a_bound_pair_is_refused(server: Any, client: Any, conversations: Any) -> None:
    first, second = conversations.create(), conversations.create()
    address, proxy = new_number(), new_number()
    participants_of(client, first.sid).create(
        messaging_binding_address=address, messaging_binding_proxy_address=proxy
    )
    other = participants_of(client, second.sid).create(
        messaging_binding_address=address, messaging_binding_proxy_address=new_number()
    )
    with nothing_written(server), twilio_error(409, 50416):
        participants_of(client, second.sid)(other.sid).update(messaging_binding_proxy_address=proxy)


# -- limits --------------------------------------------------------------------------------------------


def test_at_most_50_non_chat_participants(server: Any, client: Any, conversation: Any) -> None:
    create = participants_of(client, conversation.sid).create
    proxy = new_number()
    made = [
        create(messaging_binding_address=new_number(), messaging_binding_proxy_address=proxy)
        for _ in range(50)
    ]
    with nothing_written(server):
        with twilio_error(400, 50418):
            create(messaging_binding_address=new_number(), messaging_binding_proxy_address=proxy)
        with twilio_error(400, 50418):
            create(
                messaging_binding_address="whatsapp:" + new_number(),
                messaging_binding_proxy_address="whatsapp:" + proxy,
            )
    # chat participants do not count against the non-chat limit
    create(identity="still-room-for-chat")
    # removing one frees a slot
    participants_of(client, conversation.sid)(made[0].sid).delete()
    create(messaging_binding_address=new_number(), messaging_binding_proxy_address=proxy)
    assert len(participants_of(client, conversation.sid).list(page_size=100)) == 51


# -- service-scoped copies -----------------------------------------------------------------------------


def test_service_scoped_participants(server: Any, service: Any, service_sid: str, conversation: Any) -> None:
    svc = service.conversations(conversation.sid).participants
    p = svc.create(identity="svc-user")
    assert p.chat_service_sid == service_sid
    assert p.url == (
        f"{server.url}/v1/Services/{service_sid}/Conversations/{conversation.sid}/Participants/{p.sid}"
    )
    sms = svc.create(messaging_binding_address=new_number(), messaging_binding_proxy_address=new_number())
    assert sms.messaging_binding["type"] == "sms"
    assert svc("svc-user").fetch().sid == p.sid
    assert [x.sid for x in svc.list()] == [p.sid, sms.sid]
    assert svc(p.sid).update(attributes='{"k": 1}').attributes == '{"k": 1}'
    assert svc(p.sid).delete() is True
    with twilio_error(404, 20404):
        svc(p.sid).fetch()


def test_unknown_conversation_is_404(server: Any, client: Any) -> None:
    missing = participants_of(client, "CH" + "0" * 32)
    with nothing_written(server), twilio_error(404, 20404):
        missing.create(identity="nobody")
    assert_error_body(server.http("GET", f"/v1/Conversations/{'CH' + '0' * 32}/Participants"), 404, 20404)
