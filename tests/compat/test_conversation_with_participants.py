"""ConversationWithParticipants through the official SDK: a conversation and its participants in one call,
validated as a whole and written atomically (a failure leaves nothing behind, so a retry can succeed)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from .helpers import assert_error_body, new_number, twilio_error
from .spec import operations, schema_errors

CH_RE = re.compile(r"^CH[0-9a-f]{32}$")
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def op_schema(operation_id: str) -> dict[str, Any]:
    (op,) = (o for o in operations() if o.operation_id == operation_id)
    schema = op.response_schema()
    assert schema is not None
    return schema


def participant(**fields: Any) -> str:
    return json.dumps(fields)


def sms(address: str, proxy: str) -> str:
    return participant(messaging_binding={"address": address, "proxy_address": proxy})


@contextmanager
def nothing_created(server: Any) -> Iterator[None]:
    before = {**server.counts(), "users": server.count("users")}
    yield
    assert {**server.counts(), "users": server.count("users")} == before


def test_create_with_chat_and_sms_participants(server: Any, client: Any) -> None:
    address, proxy = new_number(), new_number()
    conv = client.conversations.v1.conversation_with_participants.create(
        friendly_name="support",
        attributes='{"topic": "feedback"}',
        participant=[participant(identity="cwp-alice"), sms(address, proxy)],
    )
    assert CH_RE.match(conv.sid)
    assert (conv.friendly_name, conv.state, conv.attributes) == ("support", "active", '{"topic": "feedback"}')
    assert conv.url == f"{server.url}/v1/Conversations/{conv.sid}"
    assert conv.links == {
        name: f"{conv.url}/{path}"
        for name, path in (
            ("participants", "Participants"),
            ("messages", "Messages"),
            ("webhooks", "Webhooks"),
        )
    }
    fetched = client.conversations.v1.conversations(conv.sid).fetch()
    assert (fetched.sid, fetched.state, fetched.friendly_name) == (conv.sid, "active", "support")
    people = client.conversations.v1.conversations(conv.sid).participants.list()
    assert [p.identity for p in people] == ["cwp-alice", None]
    assert people[0].messaging_binding is None
    assert people[1].messaging_binding == {"type": "sms", "address": address, "proxy_address": proxy}


def test_response_has_exactly_the_spec_fields(server: Any) -> None:
    response = server.http(
        "POST",
        "/v1/ConversationWithParticipants",
        headers=FORM,
        data={"FriendlyName": "shape", "Participant": [participant(identity="shape-1")]},
    )
    assert response.status_code == 201, response.text
    assert schema_errors(op_schema("CreateConversationWithParticipants"), response.json()) == []


def test_service_scoped_create(server: Any, client: Any, service_sid: str) -> None:
    conv = client.conversations.v1.services(service_sid).conversation_with_participants.create(
        unique_name=f"cwp-svc-{new_number()}", participant=[participant(identity="svc-bob")]
    )
    assert conv.chat_service_sid == service_sid
    assert conv.url == f"{server.url}/v1/Services/{service_sid}/Conversations/{conv.sid}"
    assert conv.links["participants"] == f"{conv.url}/Participants"
    people = client.conversations.v1.services(service_sid).conversations(conv.sid).participants.list()
    assert [(p.identity, p.chat_service_sid) for p in people] == [("svc-bob", service_sid)]
    body = server.http("GET", f"/v1/Services/{service_sid}/Conversations/{conv.sid}").json()
    assert body["sid"] == conv.sid


def test_flat_binding_keys_attributes_and_role(client: Any, conversation: Any) -> None:
    role = conversation_role(client, conversation)
    address, proxy = new_number(), new_number()
    conv = client.conversations.v1.conversation_with_participants.create(
        participant=[
            participant(identity="flat-1", attributes={"vip": True}, role_sid=role),
            participant(identity="flat-2", attributes='{"seat": 2}', date_created="2020-07-01T22:18:37Z"),
            participant(**{"messaging_binding.address": address, "messaging_binding.proxy_address": proxy}),
        ]
    )
    people = {p.identity: p for p in client.conversations.v1.conversations(conv.sid).participants.list()}
    assert json.loads(people["flat-1"].attributes) == {"vip": True}
    assert people["flat-1"].role_sid == role
    assert people["flat-2"].attributes == '{"seat": 2}'
    assert people["flat-2"].date_created.isoformat() == "2020-07-01T22:18:37+00:00"
    assert people[None].messaging_binding == {"type": "sms", "address": address, "proxy_address": proxy}


def conversation_role(client: Any, conversation: Any) -> str:
    """The service's default conversation role (what a participant created without RoleSid gets)."""
    sid: str = (
        client.conversations.v1.conversations(conversation.sid)
        .participants.create(identity="role-probe")
        .role_sid
    )
    return sid


def test_whatsapp_and_group_mms_participants(client: Any) -> None:
    wa, wa_proxy, gmms, projected = new_number(), new_number(), new_number(), new_number()
    conv = client.conversations.v1.conversation_with_participants.create(
        participant=[
            sms(f"whatsapp:{wa}", f"whatsapp:{wa_proxy}"),
            participant(messaging_binding={"address": gmms}),
            participant(identity="agent", messaging_binding={"projected_address": projected}),
        ]
    )
    bindings = [
        p.messaging_binding for p in client.conversations.v1.conversations(conv.sid).participants.list()
    ]
    assert bindings == [
        {"type": "whatsapp", "address": f"whatsapp:{wa}", "proxy_address": f"whatsapp:{wa_proxy}"},
        {"type": "sms", "address": gmms},
        {"type": "sms", "projected_address": projected},
    ]


def test_without_participants_is_a_plain_conversation(client: Any) -> None:
    conv = client.conversations.v1.conversation_with_participants.create(friendly_name="alone")
    assert conv.state == "active"
    assert client.conversations.v1.conversations(conv.sid).participants.list() == []


def test_requested_state_and_timers_are_kept(client: Any) -> None:
    conv = client.conversations.v1.conversation_with_participants.create(
        state="inactive", timers_closed="PT10M", participant=[participant(identity="sleepy")]
    )
    assert conv.state == "inactive"
    assert set(conv.timers) == {"date_closed"}
    assert client.conversations.v1.conversations(conv.sid).fetch().state == "inactive"
    active = client.conversations.v1.conversation_with_participants.create(
        timers_inactive="PT1M", participant=[participant(identity="awake")]
    )
    assert active.state == "active" and set(active.timers) == {"date_inactive"}


def test_too_many_participants(server: Any, client: Any) -> None:
    eleven = [participant(identity=f"many-{i}") for i in range(11)]
    with nothing_created(server), twilio_error(400, 50426):
        client.conversations.v1.conversation_with_participants.create(participant=eleven)
    conv = client.conversations.v1.conversation_with_participants.create(participant=eleven[:10])
    assert len(client.conversations.v1.conversations(conv.sid).participants.list()) == 10


def test_pair_in_use_creates_nothing_and_a_retry_succeeds(server: Any, client: Any) -> None:
    address, proxy = new_number(), new_number()
    holder = client.conversations.v1.conversations.create(friendly_name="holder")
    bound = client.conversations.v1.conversations(holder.sid).participants.create(
        messaging_binding_address=address, messaging_binding_proxy_address=proxy
    )
    request = [participant(identity="first-ok"), sms(address, proxy)]
    with nothing_created(server), twilio_error(409, 50425) as info:
        client.conversations.v1.conversation_with_participants.create(
            unique_name="cwp-retry", participant=request
        )
    assert "Participant 2" in info.value.msg
    client.conversations.v1.conversations(holder.sid).participants(bound.sid).delete()
    conv = client.conversations.v1.conversation_with_participants.create(
        unique_name="cwp-retry", participant=request
    )
    assert conv.unique_name == "cwp-retry"
    assert len(client.conversations.v1.conversations("cwp-retry").participants.list()) == 2


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("not json", 20001),
        ('["identity", "x"]', 20001),
        ('{"Identity": "capitalised"}', 20001),
        ('{"identity": 7}', 20001),
        ('{"identity": ""}', 20001),
        ('{"identity": "' + "x" * 257 + '"}', 20001),
        ('{"identity": "a", "messaging_binding": "+15551234567"}', 20001),
        ('{"identity": "a", "messaging_binding": {"addr": "+15551234567"}}', 20001),
        ('{"identity": "a", "role_sid": "RL123"}', 20001),
        ('{"identity": "a", "date_created": "yesterday"}', 20001),
        ('{"identity": "a", "attributes": "{not json"}', 50006),
        ('{"identity": "a", "attributes": "' + "x" * 5000 + '"}', 50006),
        ('{"identity": "nul\\u0000byte"}', 20001),
        ('{"identity": "a", "attributes": "{\\"k\\": \\"\\u0000\\"}"}', 20001),
        ('{"messaging_binding": {"address": "+1555\\u00008675310", "proxy_address": "+15017122661"}}', 20001),
        ("{}", 50407),
        ('{"messaging_binding": {"address": "not a number", "proxy_address": "+15017122661"}}', 50407),
        ('{"identity": "a", "messaging_binding": {"address": "+15558675310"}}', 50407),
        ('{"messaging_binding": {"address": "whatsapp:+15558675310"}}', 50407),
        ('{"messaging_binding": {"address": "' + "1" * 300 + '", "proxy_address": "+15017122661"}}', 50407),
    ],
)
def test_bad_participant_creates_nothing(server: Any, client: Any, value: str, code: int) -> None:
    with nothing_created(server), twilio_error(400, code):
        client.conversations.v1.conversation_with_participants.create(
            friendly_name="never", participant=[participant(identity="fine"), value]
        )


def test_unknown_role_creates_nothing(server: Any, client: Any) -> None:
    with nothing_created(server), twilio_error(400, 20001):
        client.conversations.v1.conversation_with_participants.create(
            participant=[participant(identity="ok"), participant(identity="r", role_sid="RL" + "0" * 32)]
        )


def test_duplicates_within_the_request(server: Any, client: Any) -> None:
    address, proxy = new_number(), new_number()
    with nothing_created(server), twilio_error(409, 50433):
        client.conversations.v1.conversation_with_participants.create(
            participant=[participant(identity="twin"), participant(identity="twin")]
        )
    with nothing_created(server), twilio_error(409, 50437):
        client.conversations.v1.conversation_with_participants.create(
            participant=[sms(address, proxy), sms(address, proxy)]
        )


@pytest.mark.parametrize(
    ("data", "status", "code"),
    [
        ({"State": "closed"}, 400, 50384),
        ({"Timers.Inactive": "PT5S"}, 400, 50375),
        ({"FriendlyName": "x" * 257}, 400, 20001),
        ({"MessagingServiceSid": "MG123"}, 400, 20001),
        ({"Attributes": "{nope"}, 400, 50006),
        ({"Participant": "x" * 20000}, 400, 20001),
    ],
)
def test_bad_conversation_fields_create_nothing(
    server: Any, data: dict[str, str], status: int, code: int
) -> None:
    with nothing_created(server):
        response = server.http(
            "POST",
            "/v1/ConversationWithParticipants",
            headers=FORM,
            data={"Participant": participant(identity="p"), **data},
        )
    assert_error_body(response, status, code)


def test_unique_name_taken_creates_nothing(server: Any, client: Any) -> None:
    name = f"cwp-unique-{new_number()}"
    client.conversations.v1.conversations.create(unique_name=name)
    with nothing_created(server), twilio_error(409, 50353):
        client.conversations.v1.conversation_with_participants.create(
            unique_name=name, participant=[participant(identity="u")]
        )


def test_other_accounts_service_is_404(server: Any, other_client: Any, service_sid: str) -> None:
    with nothing_created(server), twilio_error(404, 20404):
        other_client.conversations.v1.services(service_sid).conversation_with_participants.create(
            participant=[participant(identity="intruder")]
        )


def test_only_post_is_allowed(server: Any) -> None:
    response = server.http("GET", "/v1/ConversationWithParticipants")
    assert_error_body(response, 405, 20004)
