"""Flow control: a client that stops reading must not make the server buffer without bound. Once more
than `MAX_BUFFERED` bytes wait for it, the server closes its session with 4008 (docs/client-protocol.md),
and a client that reads keeps getting every message."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import orjson
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from hubbub.realtime.output import MAX_BUFFERED
from tests.conftest import Server
from tests.realtime.conftest import Mint, run
from tests.realtime.conftest import connect as connect_client

BODY = "x" * 30_000  # under the 32 KiB limit; one frame each
# The kernel's socket buffers (up to 4 MiB on the sending side here) fill before the server's own does.
MESSAGES = (2 * MAX_BUFFERED + 8 * 1024 * 1024) // len(BODY)


@contextmanager
def _open(server: Server, token: str) -> Iterator[Any]:
    """A WebSocket whose reader stops after one queued frame, on a socket with a tiny receive buffer."""
    parts = urlsplit(server.url)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((parts.hostname, parts.port))
    with connect(f"ws://{parts.netloc}/v1/Realtime", sock=sock, compression=None, max_size=None,
                 max_queue=1, open_timeout=30) as ws:
        ws.send(orjson.dumps({"type": "connect", "v": 1, "token": token}).decode())
        assert orjson.loads(ws.recv(timeout=30))["type"] == "connected"
        yield ws


def test_a_client_that_stops_reading_is_closed_with_4008(server: Server, mint: Mint, ident: Any) -> None:
    slow, fast = ident("slow"), ident("fast")
    rest = server.client().conversations.v1  # type: ignore[attr-defined]
    conv = rest.conversations.create(friendly_name="flow control")
    for identity in (slow, fast):
        rest.conversations(conv.sid).participants.create(identity=identity)
    with _open(server, mint(slow)) as ws:
        _flood_and_check(server, mint, fast, conv.sid, rest, ws)


def _flood_and_check(server: Server, mint: Mint, fast: str, conv_sid: str, rest: Any, ws: Any) -> None:
    """Post enough messages to overflow the slow client while a second client reads them all."""

    async def reader() -> int:  # a client that keeps reading
        client = await connect_client(server, mint(fast))
        connected.set()
        try:
            await client.wait_for(lambda f: len(client.events("messageAdded", conv_sid)) >= MESSAGES, timeout=100)
            return len(client.events("messageAdded", conv_sid))
        finally:
            await client.close()

    result: dict[str, int] = {}
    connected = threading.Event()
    fast_thread = threading.Thread(target=lambda: result.update(seen=run(reader())))
    fast_thread.start()
    assert connected.wait(30)
    for _ in range(MESSAGES):  # about 16 MB of frames for the slow client, which reads none of them
        rest.conversations(conv_sid).messages.create(author="system", body=BODY)
    fast_thread.join(timeout=120)
    assert result.get("seen") == MESSAGES  # the reading client got every message

    frames, code = 0, None
    try:
        while True:
            ws.recv(timeout=30)
            frames += 1
    except ConnectionClosed as closed:
        code = closed.rcvd.code if closed.rcvd is not None else None
    assert code == 4008, f"closed with {code} after {frames} frames"
    assert 0 < frames < MESSAGES  # what was already written arrives, the rest is cut off
