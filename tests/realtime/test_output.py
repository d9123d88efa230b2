"""How frames leave the server (hubbub/realtime/output.py): the pre-framed bytes the direct path writes
to every client, and the portable queued path (HUBBUB_REALTIME_DIRECT_WRITES=0) end to end."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
from sqlalchemy import create_engine
from twilio.jwt.access_token import AccessToken
from twilio.jwt.access_token.grants import ChatGrant
from websockets.frames import Frame
from websockets.streams import StreamReader

from hubbub.actions.accounts import do_create_api_key
from hubbub.client import RealtimeClient
from hubbub.realtime.output import OutFrame
from hubbub.store.database import sqlalchemy_url
from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, start_server, stop_server
from tests.realtime.conftest import run


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536, 70000])
def test_wire_is_one_unmasked_text_frame(size: int) -> None:
    frame = OutFrame.of({"type": "event", "body": "é" * (size // 2) + "x" * (size % 2)})
    reader = StreamReader()
    reader.feed_data(frame.wire)
    reader.feed_eof()
    parser = Frame.parse(reader.read_exact, mask=False, max_size=None)
    try:
        next(parser)
        pytest.fail("frame incomplete")
    except StopIteration as done:
        parsed: Frame = done.value
    assert parsed.fin and parsed.opcode.name == "TEXT" and not parsed.rsv1
    assert parsed.data == frame.payload and orjson.loads(parsed.data) == orjson.loads(frame.text)
    assert reader.at_eof()


@dataclass
class QueuedServer:
    url: str
    token: Callable[[str], str]


@pytest.fixture(scope="module")
def queued_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[QueuedServer]:
    """A server of its own with HUBBUB_REALTIME_DIRECT_WRITES=0 (SQLite)."""
    tmp: Path = tmp_path_factory.mktemp("queued-output")
    database_url = f"sqlite:///{tmp / 'hubbub.db'}"
    process, url = start_server(database_url, tmp / "server.log", {"HUBBUB_REALTIME_DIRECT_WRITES": "0"})
    engine = create_engine(sqlalchemy_url(database_url))
    with engine.begin() as conn:
        key_sid, secret = do_create_api_key(conn, ACCOUNT_SID, "queued output")
    engine.dispose()
    from twilio.rest import Client

    rest = Client(ACCOUNT_SID, AUTH_TOKEN)
    rest.conversations.base_url = url
    service = rest.conversations.v1.configuration().fetch().default_chat_service_sid

    def token(identity: str) -> str:
        t = AccessToken(ACCOUNT_SID, key_sid, secret, identity=identity, ttl=3600)
        t.add_grant(ChatGrant(service_sid=service))
        return t.to_jwt()  # type: ignore[no-any-return]

    try:
        yield QueuedServer(url, token)
    finally:
        stop_server(process)
        log_text = (tmp / "server.log").read_text(errors="replace")
        assert "unhandled error" not in log_text and "Traceback" not in log_text, log_text[-5000:]


def test_queued_path_chat_and_resume(queued_server: QueuedServer) -> None:
    async def scenario() -> None:
        alice = await RealtimeClient(queued_server.url, queued_server.token("alice")).connect()
        bob = await RealtimeClient(queued_server.url, queued_server.token("bob"), min_backoff=0.05).connect()
        conv = await alice.create_conversation(friendly_name="queued")
        await alice.request("add_participant", conversation=conv["sid"], identity="bob")
        await alice.send_message(conv["sid"], "one")
        await bob.wait_for(lambda e: e.get("event") == "messageAdded")
        await bob.drop()
        for body in ("two", "three"):
            await alice.send_message(conv["sid"], body)
        await bob.wait_for(lambda e: e.get("event") == "messageAdded" and e["data"]["message"]["body"] == "three")
        bodies = [e["data"]["message"]["body"] for e in bob.events("messageAdded", conv["sid"])]
        assert bodies == ["one", "two", "three"] and bob.connections == 2
        assert (await bob.request("get_messages", conversation=conv["sid"]))["messages"][0]["body"] == "one"
        await asyncio.gather(alice.close(), bob.close())

    run(scenario())


class FakeTransport:
    def __init__(self) -> None:
        self.data = b""
        self.closing = False

    def write(self, data: bytes) -> None:
        self.data += data

    def get_write_buffer_size(self) -> int:
        return len(self.data)

    def is_closing(self) -> bool:
        return self.closing


def test_direct_path_recognises_the_installed_uvicorn() -> None:
    """`hubbub serve` runs uvicorn's websockets-sansio protocol: the direct path must recognise that class
    (a uvicorn upgrade that renames it would otherwise fall back to the queued path silently)."""
    from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

    from hubbub.realtime.output import MAX_BUFFERED, DirectOutput, output_for

    async def scenario() -> None:
        protocol = object.__new__(WebSocketsSansIOProtocol)
        protocol.transport = FakeTransport()  # type: ignore[assignment]
        protocol.close_sent = protocol.disconnected = False
        output = output_for(None, protocol.receive)  # type: ignore[arg-type]
        assert isinstance(output, DirectOutput)
        first, second = OutFrame.of({"n": 1}), OutFrame.of({"n": 2})
        assert output.put(first) and output.put_many([second, first])
        assert protocol.transport.data == first.wire + second.wire + first.wire  # type: ignore[attr-defined]
        protocol.close_sent = True  # closing: nothing more is written
        assert output.put(second) and len(protocol.transport.data) == 3 * len(first.wire)  # type: ignore[attr-defined]
        protocol.close_sent = False
        assert not output.put(OutFrame(b"x" * MAX_BUFFERED))  # too far behind
        assert not isinstance(output_for(None, None, direct=True), DirectOutput)  # type: ignore[arg-type]

    asyncio.run(scenario())
