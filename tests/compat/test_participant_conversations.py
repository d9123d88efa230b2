"""Participant Conversations through the official SDK: every conversation of a service a person takes
part in, found by chat identity or by SMS / WhatsApp address."""

from __future__ import annotations

import itertools
import secrets
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from hubbub.actions.accounts import do_create_service

from .helpers import assert_error_body, new_number
from .spec import operations, schema_errors

_ids = itertools.count()


def new_identity() -> str:
    return f"pc-{next(_ids)}-{secrets.token_hex(3)}"


def assert_matches_spec(operation_id: str, body: Any) -> None:
    (op,) = [o for o in operations() if o.operation_id == operation_id]
    assert schema_errors(op.response_schema() or {}, body) == []


@pytest.fixture
def fresh_service(server: Any) -> str:
    with server.engine.begin() as conn:
        return do_create_service(conn, server.account_sid, "participant conversations test")


def join(client: Any, conversation_sid: str, **kw: Any) -> Any:
    return client.conversations.v1.conversations(conversation_sid).participants.create(**kw)


# -- by identity -----------------------------------------------------------------------------------------


def test_by_identity(server: Any, client: Any, conversations: Any, service_sid: str) -> None:
    identity = new_identity()
    first = conversations.create(friendly_name="one", unique_name=f"u-{identity}", attributes='{"n": 1}')
    second = conversations.create(friendly_name="two")
    conversations.create()  # not joined
    p1 = join(client, first.sid, identity=identity)
    p2 = join(client, second.sid, identity=identity)
    join(client, second.sid, identity=new_identity())
    user = client.conversations.v1.users(identity).fetch()
    found = client.conversations.v1.participant_conversations.list(identity=identity)
    assert [(pc.conversation_sid, pc.participant_sid) for pc in found] == [
        (first.sid, p1.sid),
        (second.sid, p2.sid),
    ]
    pc = found[0]
    assert (pc.account_sid, pc.chat_service_sid) == (server.account_sid, service_sid)
    assert (pc.participant_identity, pc.participant_user_sid, pc.participant_messaging_binding) == (
        identity,
        user.sid,
        None,
    )
    assert (pc.conversation_friendly_name, pc.conversation_unique_name, pc.conversation_attributes) == (
        "one",
        f"u-{identity}",
        '{"n": 1}',
    )
    assert (pc.conversation_state, pc.conversation_timers, pc.conversation_created_by) == ("active", {}, None)
    assert pc.conversation_date_created == first.date_created
    assert pc.conversation_date_updated is not None
    assert pc.links == {
        "participant": f"{server.url}/v1/Conversations/{first.sid}/Participants/{p1.sid}",
        "conversation": f"{server.url}/v1/Conversations/{first.sid}",
    }


def test_json_matches_the_spec_and_echoes_the_filter(server: Any, client: Any, conversations: Any) -> None:
    identity = new_identity()
    for _ in range(3):
        join(client, conversations.create().sid, identity=identity)
    body = server.http(
        "GET", "/v1/ParticipantConversations", params={"Identity": identity, "PageSize": 2}
    ).json()
    assert_matches_spec("ListParticipantConversation", body)
    assert (body["meta"]["key"], body["meta"]["page_size"], len(body["conversations"])) == (
        "conversations",
        2,
        2,
    )
    for name in ("first_page_url", "url", "next_page_url"):
        assert parse_qs(urlsplit(body["meta"][name]).query)["Identity"] == [identity]
    second = server.http("GET", body["meta"]["next_page_url"].removeprefix(server.url)).json()
    assert len(second["conversations"]) == 1 and second["meta"]["next_page_url"] is None
    assert parse_qs(urlsplit(second["meta"]["previous_page_url"]).query)["Identity"] == [identity]
    capped = server.http(
        "GET", "/v1/ParticipantConversations", params={"Identity": identity, "PageSize": 500}
    )
    assert capped.json()["meta"]["page_size"] == 50


def test_paging_through_the_sdk(client: Any, conversations: Any) -> None:
    identity = new_identity()
    made = [conversations.create().sid for _ in range(5)]
    for sid in made:
        join(client, sid, identity=identity)
    listed = client.conversations.v1.participant_conversations.stream(identity=identity, page_size=2)
    assert [pc.conversation_sid for pc in listed] == made


def test_the_user_sid_is_null_once_the_user_is_deleted(client: Any, conversation: Any) -> None:
    identity = new_identity()
    join(client, conversation.sid, identity=identity)
    client.conversations.v1.users(identity).delete()
    (pc,) = client.conversations.v1.participant_conversations.list(identity=identity)
    assert (pc.participant_identity, pc.participant_user_sid) == (identity, None)


def test_an_unknown_identity_has_no_conversations(client: Any) -> None:
    assert client.conversations.v1.participant_conversations.list(identity=new_identity()) == []


# -- by address ------------------------------------------------------------------------------------------


def test_by_sms_address_across_conversations(server: Any, client: Any, conversations: Any) -> None:
    address = new_number()
    first, second = conversations.create(), conversations.create()
    proxies = [new_number(), new_number()]
    p1 = join(
        client, first.sid, messaging_binding_address=address, messaging_binding_proxy_address=proxies[0]
    )
    p2 = join(
        client, second.sid, messaging_binding_address=address, messaging_binding_proxy_address=proxies[1]
    )
    join(
        client,
        second.sid,
        messaging_binding_address=new_number(),
        messaging_binding_proxy_address=new_number(),
    )
    found = client.conversations.v1.participant_conversations.list(address=address)
    assert [(pc.conversation_sid, pc.participant_sid) for pc in found] == [
        (first.sid, p1.sid),
        (second.sid, p2.sid),
    ]
    assert (found[0].participant_identity, found[0].participant_user_sid) == (None, None)
    assert found[0].participant_messaging_binding == {
        "type": "sms",
        "address": address,
        "proxy_address": proxies[0],
        "projected_address": None,
        "level": None,
        "name": None,
    }
    body = server.http("GET", "/v1/ParticipantConversations", params={"Address": address}).json()
    assert_matches_spec("ListParticipantConversation", body)
    assert f"Address=%2B{address[1:]}" in body["meta"]["url"]


def test_by_whatsapp_address(client: Any, conversation: Any) -> None:
    address = f"whatsapp:{new_number()}"
    participant = join(
        client,
        conversation.sid,
        messaging_binding_address=address,
        messaging_binding_proxy_address=f"whatsapp:{new_number()}",
    )
    for spelling in (address, address.replace("whatsapp:", "WhatsApp:")):
        (pc,) = client.conversations.v1.participant_conversations.list(address=spelling)
        assert (pc.participant_sid, pc.participant_messaging_binding["type"]) == (participant.sid, "whatsapp")
    # the number alone is another address (the SMS channel)
    assert client.conversations.v1.participant_conversations.list(address=address.split(":")[1]) == []


# -- services --------------------------------------------------------------------------------------------


def test_only_the_services_conversations(server: Any, client: Any, fresh_service: str) -> None:
    identity = new_identity()
    service = client.conversations.v1.services(fresh_service)
    inside = service.conversations.create()
    service.conversations(inside.sid).participants.create(identity=identity)
    join(client, client.conversations.v1.conversations.create().sid, identity=identity)  # default service
    (pc,) = service.participant_conversations.list(identity=identity)
    assert (pc.conversation_sid, pc.chat_service_sid) == (inside.sid, fresh_service)
    assert pc.participant_user_sid == service.users(identity).fetch().sid
    prefix = f"{server.url}/v1/Services/{fresh_service}"
    assert pc.links["conversation"] == f"{prefix}/Conversations/{inside.sid}"
    body = server.http(
        "GET", f"/v1/Services/{fresh_service}/ParticipantConversations", params={"Identity": identity}
    ).json()
    assert_matches_spec("ListServiceParticipantConversation", body)
    assert body["meta"]["url"].startswith(f"{prefix}/ParticipantConversations?")
    (default,) = client.conversations.v1.participant_conversations.list(identity=identity)
    assert default.conversation_sid != inside.sid


# -- bad input -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({}, 20001),
        ({"Identity": ""}, 20001),
        ({"Identity": "a", "Address": "+14155550100"}, 50451),
        ({"Identity": "x" * 257}, 20001),
        ({"PageSize": "0", "Identity": "a"}, 20001),
    ],
)
def test_bad_requests(server: Any, service_sid: str, params: dict[str, str], code: int) -> None:
    for root in ("/v1", f"/v1/Services/{service_sid}"):
        assert_error_body(server.http("GET", f"{root}/ParticipantConversations", params=params), 400, code)


def test_another_account_sees_nothing(
    server: Any,
    client: Any,
    other_client: Any,
    other_auth: tuple[str, str],
    conversation: Any,
    service_sid: str,
) -> None:
    identity = new_identity()
    join(client, conversation.sid, identity=identity)
    assert other_client.conversations.v1.participant_conversations.list(identity=identity) == []
    response = server.http(
        "GET",
        f"/v1/Services/{service_sid}/ParticipantConversations",
        params={"Identity": identity},
        auth=other_auth,
    )
    assert_error_body(response, 404, 20404)
