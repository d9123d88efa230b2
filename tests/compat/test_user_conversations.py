"""User Conversations through the official SDK: the conversations a user takes part in, its read
horizon, unread count and notification level there, and leaving a conversation."""

from __future__ import annotations

import itertools
import json
import secrets
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from hubbub.actions.accounts import do_create_service
from hubbub.store.schema import events

from .helpers import assert_error_body, nothing_written, twilio_error
from .spec import operations, schema_errors

_ids = itertools.count()


def new_identity() -> str:
    return f"uc-{next(_ids)}-{secrets.token_hex(3)}"


def assert_matches_spec(operation_id: str, body: Any) -> None:
    (op,) = [o for o in operations() if o.operation_id == operation_id]
    assert schema_errors(op.response_schema() or {}, body) == []


def event_types_after(server: Any, position: int) -> list[str]:
    with server.engine.connect() as conn:
        return list(
            conn.execute(select(events.c.type).where(events.c.id > position).order_by(events.c.id)).scalars()
        )


def last_event(server: Any) -> int:
    with server.engine.connect() as conn:
        return int(conn.execute(select(events.c.id).order_by(events.c.id.desc()).limit(1)).scalar() or 0)


@pytest.fixture
def joined(client: Any, conversations: Any, request: pytest.FixtureRequest) -> tuple[Any, Any, Any]:
    """(user, conversation, participant): a fresh identity that has joined a fresh conversation."""
    conversation = conversations.create(
        friendly_name="team room", unique_name=f"room-{new_identity()}", attributes='{"topic": "x"}'
    )
    participant = client.conversations.v1.conversations(conversation.sid).participants.create(
        identity=new_identity()
    )
    user = client.conversations.v1.users(participant.identity).fetch()
    return user, conversation, participant


def send(client: Any, conversation_sid: str, count: int) -> None:
    for i in range(count):
        client.conversations.v1.conversations(conversation_sid).messages.create(author="bot", body=f"m{i}")


# -- list / fetch ----------------------------------------------------------------------------------------


def test_user_conversation_fields(server: Any, client: Any, joined: tuple[Any, Any, Any]) -> None:
    user, conversation, participant = joined
    (uc,) = client.conversations.v1.users(user.sid).user_conversations.list()
    assert (uc.account_sid, uc.chat_service_sid, uc.user_sid) == (
        server.account_sid,
        conversation.chat_service_sid,
        user.sid,
    )
    assert (uc.conversation_sid, uc.participant_sid) == (conversation.sid, participant.sid)
    assert (uc.friendly_name, uc.unique_name, uc.attributes) == (
        "team room",
        conversation.unique_name,
        '{"topic": "x"}',
    )
    assert (uc.conversation_state, uc.timers, uc.created_by) == ("active", {}, None)
    assert (uc.notification_level, uc.last_read_message_index, uc.unread_messages_count) == (
        "default",
        None,
        None,
    )
    assert uc.date_created == conversation.date_created
    assert uc.url == f"{server.url}/v1/Users/{user.sid}/Conversations/{conversation.sid}"
    assert uc.links == {
        "participant": f"{server.url}/v1/Conversations/{conversation.sid}/Participants/{participant.sid}",
        "conversation": f"{server.url}/v1/Conversations/{conversation.sid}",
    }


def test_user_conversation_json_matches_the_spec(
    server: Any, joined: tuple[Any, Any, Any], service_sid: str
) -> None:
    user, conversation, _ = joined
    listed = server.http("GET", f"/v1/Users/{user.sid}/Conversations", params={"PageSize": 99}).json()
    assert_matches_spec("ListUserConversation", listed)
    assert (listed["meta"]["key"], listed["meta"]["page_size"]) == ("conversations", 50)
    fetched = server.http(
        "GET", f"/v1/Services/{service_sid}/Users/{user.identity}/Conversations/{conversation.sid}"
    ).json()
    assert_matches_spec("FetchServiceUserConversation", fetched)
    prefix = f"{server.url}/v1/Services/{service_sid}"
    assert fetched["url"] == f"{prefix}/Users/{user.sid}/Conversations/{conversation.sid}"
    assert fetched["links"]["conversation"] == f"{prefix}/Conversations/{conversation.sid}"


def test_fetch_by_identity_and_unique_name(client: Any, joined: tuple[Any, Any, Any]) -> None:
    user, conversation, participant = joined
    for user_key in (user.sid, user.identity):
        for conversation_key in (conversation.sid, conversation.unique_name):
            uc = client.conversations.v1.users(user_key).user_conversations(conversation_key).fetch()
            assert (uc.user_sid, uc.conversation_sid, uc.participant_sid) == (
                user.sid,
                conversation.sid,
                participant.sid,
            )


def test_list_across_pages_and_only_the_users_conversations(client: Any, conversations: Any) -> None:
    identity = new_identity()
    made = []
    for _ in range(3):
        conversation = conversations.create()
        client.conversations.v1.conversations(conversation.sid).participants.create(identity=identity)
        made.append(conversation.sid)
    other = conversations.create()
    client.conversations.v1.conversations(other.sid).participants.create(identity=new_identity())
    listed = client.conversations.v1.users(identity).user_conversations.stream(page_size=2)
    assert [uc.conversation_sid for uc in listed] == made


def test_timers_and_state_come_from_the_conversation(client: Any, conversations: Any) -> None:
    conversation = conversations.create(state="active", timers_inactive="PT5M")
    identity = new_identity()
    client.conversations.v1.conversations(conversation.sid).participants.create(identity=identity)
    uc = client.conversations.v1.users(identity).user_conversations(conversation.sid).fetch()
    assert uc.conversation_state == "active" and set(uc.timers) == {"date_inactive"}
    client.conversations.v1.conversations(conversation.sid).update(state="closed")
    uc = client.conversations.v1.users(identity).user_conversations(conversation.sid).fetch()
    assert uc.conversation_state == "closed"


def test_in_a_service(server: Any, client: Any) -> None:
    with server.engine.begin() as conn:
        service_sid = do_create_service(conn, server.account_sid, "user conversations test")
    service = client.conversations.v1.services(service_sid)
    conversation = service.conversations.create()
    service.conversations(conversation.sid).participants.create(identity="svc-member")
    (uc,) = service.users("svc-member").user_conversations.list()
    assert (uc.chat_service_sid, uc.conversation_sid) == (service_sid, conversation.sid)
    assert uc.url.startswith(f"{server.url}/v1/Services/{service_sid}/Users/US")
    assert (
        uc.links["conversation"] == f"{server.url}/v1/Services/{service_sid}/Conversations/{conversation.sid}"
    )
    # the user belongs to that service only
    assert_error_body(server.http("GET", "/v1/Users/svc-member/Conversations"), 404, 20404)


# -- update ----------------------------------------------------------------------------------------------


def test_read_horizon_and_unread_count(server: Any, client: Any, joined: tuple[Any, Any, Any]) -> None:
    user, conversation, participant = joined
    send(client, conversation.sid, 4)  # indices 0..3
    ctx = client.conversations.v1.users(user.sid).user_conversations(conversation.sid)
    assert ctx.fetch().unread_messages_count is None  # never read: unknown, not "all"
    uc = ctx.update(last_read_message_index=1)
    assert (uc.last_read_message_index, uc.unread_messages_count) == (1, 2)
    send(client, conversation.sid, 1)
    assert ctx.fetch().unread_messages_count == 3
    assert ctx.update(last_read_message_index=4).unread_messages_count == 0
    # the horizon is the participant's
    fetched = client.conversations.v1.conversations(conversation.sid).participants(participant.sid).fetch()
    assert fetched.last_read_message_index == 4


def test_last_read_timestamp_and_notification_level(client: Any, joined: tuple[Any, Any, Any]) -> None:
    user, conversation, participant = joined
    ctx = client.conversations.v1.users(user.identity).user_conversations(conversation.unique_name)
    uc = ctx.update(notification_level="muted", last_read_timestamp=datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC))
    assert uc.notification_level == "muted"
    assert ctx.fetch().notification_level == "muted"
    fetched = client.conversations.v1.conversations(conversation.sid).participants(participant.sid).fetch()
    assert fetched.last_read_timestamp == "2024-05-06T07:08:09Z"
    assert ctx.update(notification_level="default").notification_level == "default"


def test_update_emits_participant_updated(server: Any, client: Any, joined: tuple[Any, Any, Any]) -> None:
    user, conversation, _ = joined
    start = last_event(server)
    client.conversations.v1.users(user.sid).user_conversations(conversation.sid).update(
        last_read_message_index=0
    )
    assert event_types_after(server, start) == ["onParticipantUpdated"]


BAD_UPDATES = [
    ({"NotificationLevel": "loud"}, 50210),
    ({"NotificationLevel": ""}, 50210),
    ({"LastReadMessageIndex": "three"}, 50421),
    ({"LastReadMessageIndex": "-1"}, 50421),
    ({"LastReadMessageIndex": "1" * 30}, 50421),
    ({"LastReadMessageIndex": "9" * 19}, 50421),
    ({"LastReadTimestamp": "yesterday"}, 20001),
]


@pytest.mark.parametrize(("data", "code"), BAD_UPDATES)
def test_bad_updates_write_nothing(
    server: Any, client: Any, joined: tuple[Any, Any, Any], data: dict[str, str], code: int
) -> None:
    user, conversation, participant = joined
    before = client.conversations.v1.conversations(conversation.sid).participants(participant.sid).fetch()
    with nothing_written(server):
        response = server.http("POST", f"/v1/Users/{user.sid}/Conversations/{conversation.sid}", data=data)
        assert_error_body(response, 400, code)
    after = client.conversations.v1.conversations(conversation.sid).participants(participant.sid).fetch()
    assert (after.last_read_message_index, after.date_updated) == (
        before.last_read_message_index,
        before.date_updated,
    )


# -- delete ----------------------------------------------------------------------------------------------


def test_delete_leaves_the_conversation(server: Any, client: Any, joined: tuple[Any, Any, Any]) -> None:
    user, conversation, participant = joined
    start = last_event(server)
    assert client.conversations.v1.users(user.identity).user_conversations(conversation.sid).delete() is True
    assert client.conversations.v1.conversations(conversation.sid).participants.list() == []
    assert event_types_after(server, start) == ["onParticipantRemoved"]
    assert client.conversations.v1.users(user.sid).user_conversations.list() == []
    with twilio_error(404, 20404):
        client.conversations.v1.users(user.sid).user_conversations(conversation.sid).fetch()
    with twilio_error(404, 20404):
        client.conversations.v1.users(user.sid).user_conversations(conversation.sid).delete()
    assert client.conversations.v1.users(user.sid).fetch().sid == user.sid  # the user stays
    data = json.loads(server.http("GET", f"/v1/Conversations/{conversation.sid}").text)
    assert data["sid"] == conversation.sid


# -- not found -------------------------------------------------------------------------------------------


def test_not_a_participant_or_unknown_is_404(
    server: Any, client: Any, joined: tuple[Any, Any, Any], conversations: Any
) -> None:
    user, conversation, _ = joined
    elsewhere = conversations.create()
    cases = [
        (user.sid, elsewhere.sid),
        (user.sid, "CH" + "0" * 32),
        (user.sid, "no-such-room"),
        ("nobody-here", conversation.sid),
        ("US" + "0" * 32, conversation.sid),
    ]
    with nothing_written(server):
        for user_key, conversation_key in cases:
            ctx = client.conversations.v1.users(user_key).user_conversations(conversation_key)
            with twilio_error(404, 20404):
                ctx.fetch()
            with twilio_error(404, 20404):
                ctx.update(notification_level="muted")
            with twilio_error(404, 20404):
                ctx.delete()
        assert_error_body(server.http("GET", "/v1/Users/nobody-here/Conversations"), 404, 20404)


def test_another_account_sees_nothing(
    server: Any, client: Any, other_client: Any, other_auth: tuple[str, str], joined: tuple[Any, Any, Any]
) -> None:
    user, conversation, _ = joined
    with nothing_written(server):
        for user_key in (user.sid, user.identity):
            ctx = other_client.conversations.v1.users(user_key).user_conversations(conversation.sid)
            with twilio_error(404, 20404):
                ctx.fetch()
            with twilio_error(404, 20404):
                ctx.update(last_read_message_index=0)
            with twilio_error(404, 20404):
                ctx.delete()
            response = server.http("GET", f"/v1/Users/{user_key}/Conversations", auth=other_auth)
            assert_error_body(response, 404, 20404)
    assert len(client.conversations.v1.users(user.sid).user_conversations.list()) == 1
