"""Resume: every event carries its stream position; a client whose connection is cut gets everything it
missed, in order and exactly once, before live events — including membership changes made meanwhile."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from hubbub.client import RealtimeClient
from tests.conftest import Server
from tests.realtime.conftest import Mint, connect, run


def _bodies(client: RealtimeClient, conversation: str) -> list[str]:
    return [e["data"]["message"]["body"] for e in client.events("messageAdded", conversation)]


def _check_stream(client: RealtimeClient) -> None:
    positions = [e["pos"] for e in client.received if e["type"] == "event"]
    assert positions == sorted(set(positions)), "events out of order or repeated"


def _rest_messages(server: Server, conversation: str, bodies: list[str], pause: float = 0.0) -> None:
    messages = server.client().conversations.v1.conversations(conversation).messages  # type: ignore[attr-defined]
    for body in bodies:
        messages.create(author="system", body=body)
        time.sleep(pause)


def test_reconnect_gets_what_was_missed(server: Server, mint: Mint, ident: Any) -> None:
    async def scenario() -> None:
        alice = await connect(server, mint(ident("alice")))
        bob = await connect(server, mint(ident("bob")), min_backoff=0.5)
        conv = await alice.create_conversation(friendly_name="resume")
        await alice.request("add_participant", conversation=conv["sid"], identity=bob.identity)
        await alice.send_message(conv["sid"], "before")
        await bob.wait_for(lambda e: e.get("event") == "messageAdded")
        await bob.drop()
        missed = [f"missed {i}" for i in range(20)]
        await asyncio.to_thread(_rest_messages, server, conv["sid"], missed)
        await bob.wait_for(lambda e: e.get("event") == "messageAdded"
                           and e["data"]["message"]["body"] == "missed 19", timeout=20)
        await alice.send_message(conv["sid"], "live")
        await bob.wait_for(lambda e: e.get("event") == "messageAdded" and e["data"]["message"]["body"] == "live")
        assert _bodies(bob, conv["sid"]) == ["before", *missed, "live"]
        assert bob.connections == 2
        _check_stream(bob)
        await alice.close()
        await bob.close()

    run(scenario())


def test_connections_cut_mid_stream(server: Server, mint: Mint, ident: Any) -> None:
    async def scenario() -> None:
        alice = await connect(server, mint(ident("alice")))
        bob = await connect(server, mint(ident("bob")), min_backoff=0.02, max_backoff=0.1)
        conv = await alice.create_conversation(friendly_name="cuts")
        await alice.request("add_participant", conversation=conv["sid"], identity=bob.identity)
        bodies = [f"m{i}" for i in range(60)]
        # paced, so that the stream outlasts several cuts however fast the server answers
        posting = asyncio.create_task(asyncio.to_thread(_rest_messages, server, conv["sid"], bodies, 0.01))
        while not posting.done():
            await asyncio.sleep(0.08)
            await bob.drop()
        await posting
        await bob.wait_for(lambda e: e.get("event") == "messageAdded" and e["data"]["message"]["body"] == "m59",
                           timeout=30)
        assert _bodies(bob, conv["sid"]) == bodies
        assert bob.connections > 2
        _check_stream(bob)
        await alice.close()
        await bob.close()

    run(scenario())


def test_membership_changes_while_disconnected(server: Server, mint: Mint, ident: Any) -> None:
    async def scenario() -> None:
        alice = await connect(server, mint(ident("alice")))
        bob = await connect(server, mint(ident("bob")), reconnect=False)
        old = await alice.create_conversation(friendly_name="old")
        await alice.request("add_participant", conversation=old["sid"], identity=bob.identity)
        await bob.wait_for(lambda e: e.get("event") == "participantJoined")
        saved = bob.position
        await bob.close()
        # while bob is away: added to a new conversation and removed from the old one
        new = await alice.create_conversation(friendly_name="new")
        await alice.request("add_participant", conversation=new["sid"], identity=bob.identity)
        await alice.send_message(new["sid"], "welcome")
        await alice.send_message(old["sid"], "still here?")
        await alice.request("remove_participant", conversation=old["sid"], participant=bob.identity)
        await alice.send_message(old["sid"], "bob is gone")

        again = RealtimeClient(server.url, mint(bob.identity))
        again.position = saved
        await again.connect()
        await again.wait_for(lambda e: e.get("event") == "participantLeft")
        assert _bodies(again, new["sid"]) == ["welcome"]
        assert _bodies(again, old["sid"]) == ["still here?"]  # not what was said after bob left
        assert again.events("participantJoined", new["sid"])
        _check_stream(again)
        await alice.send_message(new["sid"], "live again")
        await again.wait_for(lambda e: e.get("event") == "messageAdded"
                             and e["data"]["message"]["body"] == "live again")
        await alice.close()
        await again.close()

    run(scenario())


def test_fresh_connection_starts_live(server: Server, mint: Mint, ident: Any) -> None:
    async def scenario() -> None:
        alice = await connect(server, mint(ident("alice")))
        conv = await alice.create_conversation(friendly_name="fresh")
        await alice.send_message(conv["sid"], "old news")
        again = await connect(server, mint(alice.identity))  # no resume position: no replay
        await alice.send_message(conv["sid"], "news")
        await again.wait_for(lambda e: e.get("event") == "messageAdded")
        assert _bodies(again, conv["sid"]) == ["news"]
        await alice.close()
        await again.close()

    run(scenario())


def test_conversation_deleted_while_disconnected(server: Server, mint: Mint, ident: Any, service_sid: str) -> None:
    """A conversation deleted (over REST, or by another client) while the client was away is announced
    when it resumes: its participants went with it, so no participantLeft says so."""
    rest = server.client().conversations.v1  # type: ignore[attr-defined]
    admin = next(r for r in rest.services(service_sid).roles.list() if r.friendly_name == "service admin")

    async def scenario() -> None:
        alice = await connect(server, mint(ident("alice")))
        await asyncio.to_thread(lambda: rest.services(service_sid).users(alice.identity).update(role_sid=admin.sid))
        bob = await connect(server, mint(ident("bob")), reconnect=False)
        by_rest = await alice.create_conversation(friendly_name="deleted over REST")
        by_sdk = await alice.create_conversation(friendly_name="deleted by alice")
        kept = await alice.create_conversation(friendly_name="kept")
        for conv in (by_rest, by_sdk, kept):
            await alice.request("add_participant", conversation=conv["sid"], identity=bob.identity)
            sid = conv["sid"]
            await bob.wait_for(lambda e: e.get("event") == "participantJoined"
                               and e["conversation_sid"] == sid)  # noqa: B023 - awaited in the loop
        saved = bob.position
        await bob.close()
        await alice.send_message(by_rest["sid"], "last words")
        await asyncio.to_thread(
            lambda: server.client().conversations.v1.conversations(by_rest["sid"]).delete())  # type: ignore[attr-defined]
        await alice.request("delete_conversation", conversation=by_sdk["sid"])
        await alice.send_message(kept["sid"], "after the deletions")

        again = RealtimeClient(server.url, mint(bob.identity))
        again.position = saved
        await again.connect()
        removed = {e["conversation_sid"]: e for e in again.events("conversationRemoved")}
        assert set(removed) == {by_rest["sid"], by_sdk["sid"]}
        assert removed[by_rest["sid"]]["source"] == "API" and removed[by_sdk["sid"]]["source"] == "SDK"
        assert removed[by_sdk["sid"]]["data"]["conversation"]["friendly_name"] == "deleted by alice"
        assert _bodies(again, by_rest["sid"]) == ["last words"]  # what was said before the deletion
        assert _bodies(again, kept["sid"]) == ["after the deletions"]
        _check_stream(again)
        # a stranger who never was a participant hears nothing of it
        carol = RealtimeClient(server.url, mint(ident("carol")))
        carol.position = saved
        await carol.connect()
        assert carol.events("conversationRemoved") == []
        await alice.close()
        await again.close()
        await carol.close()

    run(scenario())


def test_removed_over_rest_while_disconnected(server: Server, mint: Mint, ident: Any) -> None:
    async def scenario() -> None:
        alice = await connect(server, mint(ident("alice")))
        bob = await connect(server, mint(ident("bob")), reconnect=False)
        conv = await alice.create_conversation(friendly_name="rest removal")
        await alice.request("add_participant", conversation=conv["sid"], identity=bob.identity)
        await bob.wait_for(lambda e: e.get("event") == "participantJoined")
        saved = bob.position
        await bob.close()
        participants = server.client().conversations.v1.conversations(conv["sid"]).participants  # type: ignore[attr-defined]
        sid = next(p.sid for p in await asyncio.to_thread(participants.list) if p.identity == bob.identity)
        await asyncio.to_thread(lambda: participants(sid).delete())
        await alice.send_message(conv["sid"], "bob is gone")

        again = RealtimeClient(server.url, mint(bob.identity))
        again.position = saved
        await again.connect()
        left = again.events("participantLeft", conv["sid"])
        assert [e["data"]["participant"]["identity"] for e in left] == [bob.identity]
        assert _bodies(again, conv["sid"]) == []
        await alice.close()
        await again.close()

    run(scenario())


def test_request_made_while_reconnecting_waits_for_the_resync(server: Server, mint: Mint, ident: Any) -> None:
    async def scenario() -> None:
        alice = await connect(server, mint(ident("alice")))
        bob = await connect(server, mint(ident("bob")), min_backoff=0.3)
        conv = await alice.create_conversation(friendly_name="queued")
        await alice.request("add_participant", conversation=conv["sid"], identity=bob.identity)
        await bob.wait_for(lambda e: e.get("event") == "participantJoined")
        await bob.drop()
        sent = await bob.send_message(conv["sid"], "sent while away")  # waits for the new connection
        assert sent["author"] == bob.identity and bob.connections == 2
        await alice.wait_for(lambda e: e.get("event") == "messageAdded"
                             and e["data"]["message"]["body"] == "sent while away")
        await alice.close()
        await bob.close()

    run(scenario())
