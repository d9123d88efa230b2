"""How frames leave the server: encoded once per event, then written to each connection.

The fan-out cost is per (frame, client): with 1,000 clients in a conversation every message is 1,000
writes. So a frame is JSON-encoded once (`OutFrame`) and, for the direct path, also framed once as an
RFC 6455 text frame (`OutFrame.wire`, serialised by the `websockets` library: a server's frames are
unmasked, so the bytes are the same for every client). Each client then costs one `transport.write`.

`DirectOutput` writes those bytes straight to the connection's asyncio transport. ASGI has no way to
hand an application pre-framed bytes, so this reaches the uvicorn protocol object behind the connection
(the ASGI `receive` callable is a bound method of it; Starlette passes it through unwrapped) and uses it
only when it is one of uvicorn's WebSocket protocols, whose state it needs to read (`close_sent`,
`disconnected`, or `open` for the legacy one). Frames go out whole and in order, interleaved only at frame
boundaries with what uvicorn writes itself (pings, the close frame), since everything runs on one event
loop. An uncompressed frame is valid even if permessage-deflate were negotiated (RSV1 clear), though
`hubbub serve` turns it off. Measured: ≈ 24 µs → ≈ 9 µs of server CPU per delivered frame
(bench/README.md), against the per-client path it replaces: a queue, a writer task woken per frame,
Starlette's and uvicorn's `send` coroutines and the library framing the same text again for each client.

When the hub dispatches several events at once (a group commit, or catching up after a stall), each
client's frames of the batch go out in one write (`put_many`): under load the per-client cost shrinks
instead of piling up.

`QueuedOutput` is the portable path for any other ASGI server: a queue and a writer task per connection
that sends with `WebSocket.send_text`.

Flow control: a client that does not read lets its transport buffer grow; past MAX_BUFFERED bytes (or
MAX_PENDING queued frames) the session is closed with 4008 after what was already written, and the
client resumes from the last position it received.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import orjson
from starlette.websockets import WebSocket
from websockets.frames import Frame, Opcode

log = logging.getLogger(__name__)

MAX_BUFFERED = 4 * 1024 * 1024  # bytes written but not yet taken by the peer before it is too slow
MAX_PENDING = 5_000  # the queued path: frames queued for one client before it is too slow
CLOSE_TIMEOUT = 10.0  # a client that does not take the close frame is cut


class OutFrame:
    """One JSON text frame, encoded once whatever the number of recipients."""

    __slots__ = ("payload", "_wire")

    def __init__(self, payload: bytes) -> None:
        self.payload = payload
        self._wire: bytes | None = None

    @classmethod
    def of(cls, value: Any) -> OutFrame:
        return cls(orjson.dumps(value))

    @property
    def wire(self) -> bytes:
        """The complete WebSocket frame (FIN, text opcode, length, unmasked payload)."""
        if self._wire is None:
            self._wire = Frame(Opcode.TEXT, self.payload).serialize(mask=False)
        return self._wire

    @property
    def text(self) -> str:
        return self.payload.decode()


class DirectOutput:
    """Writes pre-framed bytes to the uvicorn connection's transport, synchronously, in call order."""

    def __init__(self, ws: WebSocket, protocol: Any, is_open: Callable[[Any], bool]) -> None:
        self.ws = ws
        self.protocol = protocol
        self.transport: asyncio.Transport = protocol.transport
        self.is_open = is_open
        self.close_code: int | None = None
        self.finished: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def put(self, frame: OutFrame) -> bool:
        """Write `frame`; False when the client has fallen too far behind."""
        if not self.is_open(self.protocol):
            return True  # closing or gone: the connection's receive loop sees the disconnect
        transport = self.transport
        transport.write(frame.wire)
        return transport.get_write_buffer_size() <= MAX_BUFFERED

    def put_many(self, frames: list[OutFrame]) -> bool:
        """Write several frames with one write (one system call instead of one each)."""
        if not self.is_open(self.protocol):
            return True
        transport = self.transport
        transport.write(b"".join([frame.wire for frame in frames]))
        return transport.get_write_buffer_size() <= MAX_BUFFERED

    def close(self, code: int) -> None:
        if self.close_code is None:
            self.close_code = code
            self.finished.set_result(None)

    async def finish(self) -> None:
        """After `close`: send the close frame behind what is already written."""
        if self.close_code is None:
            return
        try:
            await asyncio.wait_for(self.ws.close(self.close_code), CLOSE_TIMEOUT)
        except Exception:  # noqa: BLE001 - gone, or not reading: cut it
            self.transport.abort()


class QueuedOutput:
    """The portable path: a queue and a writer task sending through Starlette's WebSocket."""

    def __init__(self, ws: WebSocket) -> None:
        self.ws = ws
        self.queue: asyncio.Queue[OutFrame | None] = asyncio.Queue()
        self.close_code: int | None = None
        self.finished: asyncio.Task[None] = asyncio.create_task(self._run())

    def put(self, frame: OutFrame) -> bool:
        if self.queue.qsize() >= MAX_PENDING:
            return False
        self.queue.put_nowait(frame)
        return True

    def put_many(self, frames: list[OutFrame]) -> bool:
        return all([self.put(frame) for frame in frames])

    def close(self, code: int) -> None:
        if self.close_code is None:
            self.close_code = code
            self.queue.put_nowait(None)

    async def _run(self) -> None:
        while True:
            frame = await self.queue.get()
            if frame is None:
                with contextlib.suppress(Exception):
                    await self.ws.close(self.close_code or 1000)
                return
            await self.ws.send_text(frame.text)

    async def finish(self) -> None:
        if self.close_code is not None:
            await asyncio.gather(self.finished, return_exceptions=True)
        else:
            self.finished.cancel()
            await asyncio.gather(self.finished, return_exceptions=True)


Output = DirectOutput | QueuedOutput


def _sansio_open(protocol: Any) -> bool:  # uvicorn's websockets-sansio and wsproto protocols
    return not (protocol.close_sent or protocol.disconnected or protocol.transport.is_closing())


def _legacy_open(protocol: Any) -> bool:  # uvicorn's `websockets` (legacy asyncio) protocol
    return bool(protocol.open) and not protocol.transport.is_closing()


# uvicorn's WebSocket protocol classes, by module and name (no import: uvicorn has loaded the one it uses,
# and importing the legacy one would print a deprecation warning)
_KNOWN: dict[tuple[str, str], Callable[[Any], bool]] = {
    ("uvicorn.protocols.websockets.websockets_sansio_impl", "WebSocketsSansIOProtocol"): _sansio_open,
    ("uvicorn.protocols.websockets.wsproto_impl", "WSProtocol"): _sansio_open,
    ("uvicorn.protocols.websockets.websockets_impl", "WebSocketProtocol"): _legacy_open,
}


def output_for(ws: WebSocket, receive: Any, *, direct: bool = True) -> Output:
    """The direct path when the server is uvicorn (known protocol, plain asyncio transport), else queued."""
    if direct:
        protocol = getattr(receive, "__self__", None)
        is_open = _KNOWN.get((type(protocol).__module__, type(protocol).__qualname__))
        transport = getattr(protocol, "transport", None)
        if is_open is not None and hasattr(transport, "write") and hasattr(transport, "get_write_buffer_size"):
            return DirectOutput(ws, protocol, is_open)
    return QueuedOutput(ws)
