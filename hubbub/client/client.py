"""The client itself: one connection task that reconnects and resumes, and request/reply matching."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import random
import time
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.protocol import State

log = logging.getLogger(__name__)

PROTOCOL_VERSION = 1
TYPING_INTERVAL = 5.0  # seconds between typing signals, as Twilio's SDKs
TERMINAL_CLOSE_CODES = {4401}  # token expired or refused: reconnecting with the same token cannot help


class ChatError(Exception):
    """An `error` frame: the Twilio-style code, HTTP-like status and message."""

    def __init__(self, code: int, status: int, message: str) -> None:
        super().__init__(f"{code} ({status}): {message}")
        self.code = code
        self.status = status
        self.message = message


def realtime_url(base_url: str) -> str:
    url = base_url.rstrip("/")
    if url.startswith("http"):
        url = "ws" + url[4:]
    return url if url.endswith("/v1/Realtime") else url + "/v1/Realtime"


class RealtimeClient:
    def __init__(self, base_url: str, token: str, *, reconnect: bool = True, min_backoff: float = 0.05,
                 max_backoff: float = 2.0, request_timeout: float = 30.0) -> None:
        self.url = realtime_url(base_url)
        self.token = token
        self.reconnect = reconnect
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        self.request_timeout = request_timeout
        self.position: int | None = None  # the last stream position received
        self.identity: str | None = None
        self.user: dict[str, Any] | None = None
        self.received: list[dict[str, Any]] = []  # every event and typing frame, in arrival order
        self.connections = 0
        self.error: ChatError | None = None  # the terminal error, once the client gave up
        self._handlers: dict[str, list[Callable[[dict[str, Any]], Any]]] = {}
        self._pending: dict[str, asyncio.Future[Any]] = {}
        self._ids = itertools.count(1)
        self._ws: ClientConnection | None = None
        self._synced = asyncio.Event()
        self._changed = asyncio.Event()
        self._first: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._typing_sent: dict[str, float] = {}

    # -- lifecycle ---------------------------------------------------------------------------------
    async def connect(self) -> RealtimeClient:
        """Connect and wait until the first connection is synced; raises ChatError if refused."""
        self._first = asyncio.get_running_loop().create_future()
        self._task = asyncio.create_task(self._run())
        await self._first
        return self

    async def close(self) -> None:
        self._closing = True
        if self._ws is not None:
            await self._ws.close()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    async def drop(self) -> None:
        """Cut the connection abruptly, as a network failure would (the client then reconnects)."""
        if self._ws is not None:
            self._ws.transport.abort()

    async def _run(self) -> None:
        backoff = self.min_backoff
        while not self._closing:
            try:
                async with connect(self.url, compression=None, max_size=2**22, open_timeout=30) as ws:
                    self._ws = ws
                    await ws.send(json.dumps({"type": "connect", "v": PROTOCOL_VERSION, "token": self.token,
                                              "resume_from": self.position}))
                    async for text in ws:
                        self._handle(json.loads(text))
                        backoff = self.min_backoff
                    code = ws.close_code
            except (TimeoutError, ConnectionClosed, OSError, InvalidHandshake) as exc:
                log.debug("realtime connection lost: %s", exc)
                code = exc.rcvd.code if isinstance(exc, ConnectionClosed) and exc.rcvd is not None else None
            self._ws = None
            self._synced.clear()
            self._fail_pending(ConnectionError("the connection dropped before the reply"))
            if self.error is not None and (code in TERMINAL_CLOSE_CODES or not self._synced_once()):
                self._settle_first(self.error)
                return
            if not self.reconnect or self._closing:
                break
            self.error = None
            await asyncio.sleep(backoff * (1 + random.random() * 0.2))
            backoff = min(backoff * 2, self.max_backoff)
        self._settle_first(ConnectionError("closed"))

    def _synced_once(self) -> bool:
        return self._first is not None and self._first.done()

    def _settle_first(self, exc: BaseException | None) -> None:
        if self._first is not None and not self._first.done():
            if exc is None:
                self._first.set_result(None)
            else:
                self._first.set_exception(exc)

    def _fail_pending(self, exc: BaseException) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(exc)
        self._pending.clear()

    # -- frames ------------------------------------------------------------------------------------
    def _handle(self, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind == "event":
            if self.position is not None and frame["pos"] <= self.position:
                return  # already seen (cannot happen with a well-behaved server; cheap to guard)
            self.position = frame["pos"]
            self._emit(frame["event"], frame)
        elif kind == "typing":
            self._emit(frame["event"], frame)
        elif kind == "connected":
            self.identity = frame["identity"]
            self.user = frame["user"]
            self.connections += 1
        elif kind == "synced":
            self.position = max(self.position or 0, frame["pos"])
            self._synced.set()
            self._settle_first(None)
        elif kind in ("reply", "token_updated", "pong"):
            future = self._pending.pop(str(frame.get("id")), None)
            if future is not None and not future.done():
                future.set_result(frame.get("result", frame))
        elif kind == "error":
            error = ChatError(frame["code"], frame["status"], frame["message"])
            future = self._pending.pop(str(frame.get("id")), None) if frame.get("id") is not None else None
            if future is not None and not future.done():
                future.set_exception(error)
            else:
                self.error = error
                self._emit("error", frame)

    def _emit(self, name: str, frame: dict[str, Any]) -> None:
        if name != "error":
            self.received.append(frame)
        self._changed.set()
        self._changed = asyncio.Event()
        for handler in [*self._handlers.get(name, ()), *self._handlers.get("*", ())]:
            try:
                result = handler(frame)
                if asyncio.iscoroutine(result):
                    asyncio.ensure_future(result)
            except Exception:
                log.exception("realtime handler for %s failed", name)

    def on(self, event: str, handler: Callable[[dict[str, Any]], Any]) -> None:
        """Call `handler(frame)` for each `event` (messageAdded, typingStarted, …; '*' for all)."""
        self._handlers.setdefault(event, []).append(handler)

    async def wait_for(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 10.0
                       ) -> dict[str, Any]:
        """The first received frame matching `predicate`, waiting up to `timeout` seconds for it."""
        async def scan() -> dict[str, Any]:
            seen = 0
            while True:
                changed = self._changed
                for frame in self.received[seen:]:
                    if predicate(frame):
                        return frame
                seen = len(self.received)
                await changed.wait()

        return await asyncio.wait_for(scan(), timeout)

    def events(self, name: str | None = None, conversation: str | None = None) -> list[dict[str, Any]]:
        return [f for f in self.received if (name is None or f["event"] == name)
                and (conversation is None or f.get("conversation_sid") == conversation)]

    # -- requests ----------------------------------------------------------------------------------
    async def _live(self, deadline: float) -> ClientConnection:
        """The synced connection, waiting (until `deadline`) while the client reconnects or catches up."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.wait_for(self._synced.wait(), max(0.0, deadline - loop.time()))
            ws = self._ws
            if ws is not None and ws.state is State.OPEN and not ws.transport.is_closing():
                return ws
            if loop.time() >= deadline:
                raise TimeoutError("not connected")
            await asyncio.sleep(0.01)  # a dropped connection: _run clears _synced and reconnects

    async def _send(self, frame: dict[str, Any]) -> Any:
        """Send a request; made while the client reconnects or catches up, it waits for the resync."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.request_timeout
        request_id = str(next(self._ids))
        future: asyncio.Future[Any] = loop.create_future()
        while True:
            ws = await self._live(deadline)
            self._pending[request_id] = future
            try:
                await ws.send(json.dumps(frame | {"id": request_id}))
                break
            except ConnectionClosed:  # not sent: wait for the next connection
                self._pending.pop(request_id, None)
        try:
            return await asyncio.wait_for(future, self.request_timeout)
        finally:
            self._pending.pop(request_id, None)

    async def request(self, action: str, **params: Any) -> Any:
        """Run a client action; returns its result, raises ChatError for an error frame."""
        return await self._send({"type": "request", "action": action,
                                 "params": {k: v for k, v in params.items() if v is not None}})

    async def update_token(self, token: str) -> None:
        """Renew the access token without reconnecting (also used on later reconnects)."""
        await self._send({"type": "update_token", "token": token})
        self.token = token

    async def typing(self, conversation: str) -> None:
        """Tell the others this user is typing: at most one signal per TYPING_INTERVAL per conversation."""
        now = time.monotonic()
        if now - self._typing_sent.get(conversation, -TYPING_INTERVAL) < TYPING_INTERVAL:
            return
        ws = await self._live(asyncio.get_running_loop().time() + self.request_timeout)
        self._typing_sent[conversation] = now
        with contextlib.suppress(ConnectionClosed):
            await ws.send(json.dumps({"type": "typing", "conversation": conversation}))

    # conveniences over `request`
    async def list_conversations(self, page_size: int | None = None, page_token: int | None = None) -> Any:
        return await self.request("list_conversations", page_size=page_size, page_token=page_token)

    async def send_message(self, conversation: str, body: str | None = None, *, attributes: Any = None,
                           media_sids: list[str] | None = None) -> dict[str, Any]:
        self._typing_sent.pop(conversation, None)
        result = await self.request("send_message", conversation=conversation, body=body, attributes=attributes,
                                    media_sids=media_sids)
        return result["message"]  # type: ignore[no-any-return]

    async def create_conversation(self, friendly_name: str | None = None, unique_name: str | None = None,
                                  attributes: Any = None) -> dict[str, Any]:
        result = await self.request("create_conversation", friendly_name=friendly_name, unique_name=unique_name,
                                    attributes=attributes)
        return result["conversation"]  # type: ignore[no-any-return]
