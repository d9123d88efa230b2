"""Every client action through the Python client, the events other participants see, and the roles and
permissions that govern them: a denied action gets an error frame with a code and changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hubbub.client import ChatError, RealtimeClient
from tests.conftest import Server
from tests.realtime.conftest import Mint, connect, run


def _is(event: str, conversation: str | None = None, **match: Any) -> Any:
    def predicate(frame: dict[str, Any]) -> bool:
        if frame.get("event") != event or (conversation and frame.get("conversation_sid") != conversation):
            return False
        data = next(iter(frame.get("data", {}).values()), {}) if frame.get("data") else frame
        return all(data.get(k) == v for k, v in match.items())
    return predicate


async def _denied(server: Server, client: RealtimeClient, code: int, action: str, **params: Any) -> None:
    before = server.counts()
    with pytest.raises(ChatError) as info:
        await client.request(action, **params)
    assert info.value.code == code, info.value
    assert info.value.status == 403 if code in (50107, 50430) else True
    assert server.counts() == before


def test_chat_between_two_clients(server: Server, mint: Mint, ident: Any) -> None:
    alice_id, bob_id = ident("alice"), ident("bob")

    async def scenario() -> None:
        alice = await connect(server, mint(alice_id))
        bob = await connect(server, mint(bob_id))
        conv = await alice.create_conversation(friendly_name="Lunch", attributes={"topic": "food"})
        sid = conv["sid"]
        assert conv["created_by"] == alice_id and conv["attributes"] == '{"topic":"food"}'
        joined = await alice.wait_for(_is("participantJoined", sid, identity=alice_id))
        assert joined["source"] == "SDK" and joined["client_identity"] == alice_id

        # the creator is a channel admin: may add participants
        added = await alice.request("add_participant", conversation=sid, identity=bob_id)
        assert added["participant"]["identity"] == bob_id
        await bob.wait_for(_is("participantJoined", sid, identity=bob_id))

        sent = await alice.send_message(sid, "hi bob", attributes={"a": 1})
        got = await bob.wait_for(_is("messageAdded", sid, body="hi bob"))
        assert got["data"]["message"]["sid"] == sent["sid"] and got["data"]["message"]["author"] == alice_id
        assert got["source"] == "SDK" and got["client_identity"] == alice_id

        reply = await bob.send_message(sid, "hi alice")
        await alice.wait_for(_is("messageAdded", sid, body="hi alice"))

        # edit and delete own messages
        await alice.request("update_message", conversation=sid, message=sent["sid"], body="hi bob!")
        await bob.wait_for(_is("messageUpdated", sid, body="hi bob!"))
        await bob.request("delete_message", conversation=sid, message=reply["sid"])
        await alice.wait_for(_is("messageRemoved", sid, sid=reply["sid"]))

        # a channel user may not touch another's message, nor rename the conversation
        await _denied(server, bob, 50107, "update_message", conversation=sid, message=sent["sid"], body="pwned")
        await _denied(server, bob, 50107, "update_message", conversation=sid, message=sent["sid"],
                      attributes={"x": 1})
        await _denied(server, bob, 50107, "delete_message", conversation=sid, message=sent["sid"])
        await _denied(server, bob, 50107, "update_conversation", conversation=sid, friendly_name="mine")
        await _denied(server, bob, 50107, "remove_participant", conversation=sid, participant=alice_id)
        await _denied(server, bob, 50107, "delete_conversation", conversation=sid)
        message = server.client().conversations.v1.conversations(sid).messages(sent["sid"]).fetch()  # type: ignore[attr-defined]
        assert message.body == "hi bob!" and message.attributes == '{"a":1}'

        # the admin may
        await alice.request("update_conversation", conversation=sid, friendly_name="Dinner")
        await bob.wait_for(_is("conversationUpdated", sid, friendly_name="Dinner"))

        # history and participants
        history = await bob.request("get_messages", conversation=sid)
        assert [m["body"] for m in history["messages"]] == ["hi bob!"] and not history["has_more"]
        people = await bob.request("get_participants", conversation=sid)
        assert sorted(p["identity"] for p in people["participants"]) == sorted([alice_id, bob_id])

        # read horizon: unread count, then participantUpdated to the others
        listed = await bob.list_conversations()
        [mine] = [c for c in listed["conversations"] if c["sid"] == sid]
        assert mine["last_message"]["body"] == "hi bob!" and mine["unread_messages_count"] is None
        await bob.request("set_read", conversation=sid, index=0)
        update = await alice.wait_for(_is("participantUpdated", sid, identity=bob_id))
        assert update["data"]["participant"]["last_read_message_index"] == 0
        await bob.request("advance_read", conversation=sid, index=0)  # not forward: no change
        listed = await bob.list_conversations()
        [mine] = [c for c in listed["conversations"] if c["sid"] == sid]
        assert mine["unread_messages_count"] == 0 and mine["last_read_message_index"] == 0
        await alice.send_message(sid, "one more")
        listed = await bob.list_conversations()
        [mine] = [c for c in listed["conversations"] if c["sid"] == sid]
        assert mine["unread_messages_count"] == 1
        await bob.request("advance_read", conversation=sid, all=True)
        listed = await bob.list_conversations()
        [mine] = [c for c in listed["conversations"] if c["sid"] == sid]
        assert mine["unread_messages_count"] == 0

        # typing: started once per burst, ended when the message arrives; never stored
        before = server.counts()
        await bob.typing(sid)
        await bob.typing(sid)
        await alice.wait_for(_is("typingStarted", sid, identity=bob_id))
        assert server.counts() == before
        await bob.send_message(sid, "typed it")
        await alice.wait_for(_is("typingEnded", sid, identity=bob_id))
        assert len(alice.events("typingStarted", sid)) == 1
        assert not bob.events("typingStarted", sid)  # one's own typing is not echoed

        # a message posted through REST appears live, with Source API
        server.client().conversations.v1.conversations(sid).messages.create(  # type: ignore[attr-defined]
            author="system", body="from REST")
        rest = await bob.wait_for(_is("messageAdded", sid, body="from REST"))
        assert rest["source"] == "API"

        # leaving: participantLeft to the others; the leaver no longer gets the conversation's events
        await bob.request("leave", conversation=sid)
        await alice.wait_for(_is("participantLeft", sid, identity=bob_id))
        await alice.send_message(sid, "after bob left")
        await alice.wait_for(_is("messageAdded", sid, body="after bob left"))
        await _denied(server, bob, 50430, "send_message", conversation=sid, body="let me in")
        await _denied(server, bob, 50430, "get_messages", conversation=sid)
        assert not bob.events("messageAdded", sid) or all(
            e["data"]["message"]["body"] != "after bob left" for e in bob.events("messageAdded", sid))
        await alice.close()
        await bob.close()

    run(scenario())


def test_join_and_service_roles(server: Server, mint: Mint, ident: Any, service_sid: str) -> None:
    carol_id, dave_id = ident("carol"), ident("dave")
    rest = server.client().conversations.v1  # type: ignore[attr-defined]
    conv = rest.conversations.create(friendly_name="open room")

    async def scenario() -> None:
        carol = await connect(server, mint(carol_id))
        # a service user may join a conversation it is not in (joinConversation)
        joined = await carol.request("join", conversation=conv.sid)
        assert joined["participant"]["identity"] == carol_id
        await carol.wait_for(_is("participantJoined", conv.sid, identity=carol_id))
        await carol.send_message(conv.sid, "joined")

        # a service role without createConversation / joinConversation
        role = rest.services(service_sid).roles.create(friendly_name=f"mute {dave_id}"[:64], type="service",
                                                      permission=["editOwnUserInfo"])
        dave = await connect(server, mint(dave_id))
        rest.services(service_sid).users(dave_id).update(role_sid=role.sid)
        await _denied(server, dave, 50107, "create_conversation", friendly_name="nope")
        await _denied(server, dave, 50107, "join", conversation=conv.sid)
        # a participant without sendMessage (conversation role without it)
        conv_role = rest.services(service_sid).roles.create(friendly_name=f"ro {dave_id}"[:64],
                                                           type="conversation", permission=["leaveConversation"])
        rest.conversations(conv.sid).participants.create(identity=dave_id, role_sid=conv_role.sid)
        await dave.wait_for(_is("participantJoined", conv.sid, identity=dave_id))
        await _denied(server, dave, 50107, "send_message", conversation=conv.sid, body="hello")
        await _denied(server, dave, 50107, "add_participant", conversation=conv.sid, identity=ident("eve"))
        await dave.request("leave", conversation=conv.sid)  # leaveConversation is granted

        # own user info (editOwnUserInfo), not another's (editAnyUserInfo)
        updated = await dave.request("update_user", friendly_name="Dave D")
        assert updated["user"]["friendly_name"] == "Dave D"
        await dave.wait_for(_is("userUpdated", identity=dave_id, friendly_name="Dave D"))
        await _denied(server, dave, 50107, "update_user", identity=carol_id, friendly_name="Carol?")
        assert rest.services(service_sid).users(carol_id).fetch().friendly_name is None
        await carol.close()
        await dave.close()

    run(scenario())


@pytest.mark.parametrize("action, params, code", [
    ("send_message", {"body": None}, 50003),
    ("send_message", {"body": "x", "attributes": "{not json"}, 50006),
    ("send_message", {"body": "x" * (33 * 1024)}, 50504),
    ("send_message", {"body": "x", "media_sids": ["nope"]}, 20001),
    ("create_conversation", {"friendly_name": "x" * 300}, 20001),
    ("update_message", {"message": "IMnope"}, 20001),
    ("set_read", {}, 20001),
    ("no_such_action", {}, 20001),
])
def test_bad_requests_change_nothing(action: str, params: dict[str, Any], code: int, server: Server,
                                     mint: Mint, ident: Any) -> None:
    async def scenario() -> None:
        client = await connect(server, mint(ident("frank")))
        conv = await client.create_conversation(friendly_name="bad input")
        before = server.counts()
        with pytest.raises(ChatError) as info:
            await client.request(action, conversation=conv["sid"], **params)
        assert info.value.code == code and info.value.status == 400
        assert server.counts() == before
        await client.close()

    run(scenario())


def test_unknown_conversation_is_404(server: Server, mint: Mint, ident: Any) -> None:
    async def scenario() -> None:
        client = await connect(server, mint(ident("gina")))
        before = server.counts()
        with pytest.raises(ChatError) as info:
            await client.send_message("CH" + "0" * 32, "hello")
        assert info.value.code == 20404 and server.counts() == before
        await client.close()

    run(scenario())


def test_list_conversations_is_ordered_by_activity_and_paginated(server: Server, mint: Mint, ident: Any) -> None:
    async def scenario() -> None:
        client = await connect(server, mint(ident("hank")))
        sids = [(await client.create_conversation(friendly_name=f"c{i}"))["sid"] for i in range(3)]
        rest = server.client().conversations.v1  # type: ignore[attr-defined]
        later = datetime.now(UTC) + timedelta(minutes=5)  # the clock has one-second resolution
        rest.conversations(sids[0]).messages.create(author="system", body="bump", date_created=later)
        first = await client.list_conversations(page_size=2)
        assert first["conversations"][0]["sid"] == sids[0]
        assert first["conversations"][0]["last_message"]["body"] == "bump"
        assert first["next_page_token"] is not None
        rest_page = await client.list_conversations(page_size=2, page_token=first["next_page_token"])
        assert rest_page["next_page_token"] is None
        listed = [c["sid"] for c in first["conversations"] + rest_page["conversations"]]
        assert sorted(listed) == sorted(sids)
        await client.close()

    run(scenario())


def test_rest_conversation_without_participants_reaches_its_participants_once_added(
        server: Server, mint: Mint, ident: Any) -> None:
    """As on Twilio, clients only see the conversations they participate in: a conversation created over
    REST with no participants is announced to nobody; a user added later learns of it from its own
    participantJoined (the SDKs' conversationJoined) and gets its events from then on."""
    async def scenario() -> None:
        ivy = await connect(server, mint(ident("ivy")))
        rest = server.client().conversations.v1  # type: ignore[attr-defined]
        conv = rest.conversations.create(friendly_name="REST only")
        rest.conversations(conv.sid).messages.create(author="system", body="before anyone")
        rest.conversations(conv.sid).participants.create(identity=ivy.identity)
        joined = await ivy.wait_for(_is("participantJoined", conv.sid, identity=ivy.identity))
        assert joined["source"] == "API"
        rest.conversations(conv.sid).messages.create(author="system", body="welcome")
        await ivy.wait_for(_is("messageAdded", conv.sid, body="welcome"))
        assert [e["event"] for e in ivy.received if e.get("conversation_sid") == conv.sid] == [
            "participantJoined", "messageAdded"]  # no conversationAdded, nothing from before the join
        listed = await ivy.list_conversations()
        mine = next(c for c in listed["conversations"] if c["sid"] == conv.sid)
        assert mine["last_message"]["body"] == "welcome"
        await ivy.close()

    run(scenario())
