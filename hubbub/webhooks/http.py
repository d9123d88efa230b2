"""The outbound HTTP client of webhooks: one small interface, two implementations.

- `LeanSender` (the default): HTTP/1.1 with keep-alive on asyncio's protocol layer, responses parsed by
  `httptools` (the parser uvicorn uses). The client's CPU cost per request is the price of every delivery
  (paid by the sender process, or by the API's process for pre-action calls and with
  `HUBBUB_WEBHOOK_SENDER=inline`): about 0.05 ms here, against 0.2–0.3 ms for
  aiohttp and 1.5–3 ms for httpx's own transport (measured; see bench/README.md). It only does what a
  webhook needs: one request at a time per connection, `Content-Length` bodies, no redirects, no proxies,
  no compression, TLS with the system's trust store.
- `HttpxSender`: an `httpx.AsyncClient` over any httpx transport, so tests or an embedding application
  can inject `httpx.MockTransport`, a proxy-aware transport, etc.: `Dispatcher(db, settings, transport=…)`.

Both send the URL exactly as given (the signature covers it) and report a request that got no HTTP answer
as `SendError`, whose text goes to the delivery log.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from functools import lru_cache
from typing import Any, Protocol
from urllib.parse import urlsplit

MAX_RESPONSE = 64 * 1024  # bytes of a response body that are kept (a pre-action answer is small JSON)


class SendError(Exception):
    """No HTTP answer: refused, reset, timed out, invalid URL… (the text says which)."""


class Sender(Protocol):
    async def send(self, method: str, url: str, body: bytes | None, headers: dict[str, str],
                   timeout: float) -> tuple[int, bytes]: ...

    async def close(self) -> None: ...


@lru_cache(maxsize=4096)
def _origin(url: str) -> tuple[str, str, int, str, str]:
    """(scheme, host, port, Host header, request target) of an absolute http(s) URL."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise SendError(f"not an absolute http(s) URL: {url[:100]}")
    port = parts.port or (443 if scheme == "https" else 80)
    host = parts.hostname
    default = (scheme == "http" and port == 80) or (scheme == "https" and port == 443)
    shown = f"[{host}]" if ":" in host else host
    host_header = shown if default else f"{shown}:{port}"
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return scheme, host, port, host_header, target


class _Connection(asyncio.Protocol):
    """One keep-alive connection; one request at a time."""

    def __init__(self) -> None:
        import httptools

        self._httptools = httptools
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self._waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self._parser: Any = None
        self._body: list[bytes] = []
        self._size = 0
        self._received = False
        self._headers_done = False
        self._framed = False

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self._received = True
        if self._parser is None:  # bytes nobody asked for: the connection is no longer usable
            self._abort()
            return
        try:
            self._parser.feed_data(data)
        except self._httptools.HttpParserError as exc:
            self._fail(SendError(f"invalid HTTP response: {exc}"))
            self._abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        waiter, parser = self._waiter, self._parser
        if parser is not None and waiter is not None and not waiter.done() and self._headers_done \
                and not self._framed:
            # a body without Content-Length or chunking ends with the connection
            self._parser = None
            waiter.set_result((parser.get_status_code(), b"".join(self._body)))
            return
        self._fail(SendError("connection closed before a complete response"
                             + (f": {exc}" if exc else "")))

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() in (b"content-length", b"transfer-encoding"):
            self._framed = True

    def on_headers_complete(self) -> None:
        self._headers_done = True

    def on_body(self, body: bytes) -> None:
        if self._size < MAX_RESPONSE:
            self._body.append(body[: MAX_RESPONSE - self._size])
        self._size += len(body)

    def on_message_complete(self) -> None:
        waiter, parser = self._waiter, self._parser
        self._parser = None
        if waiter is not None and not waiter.done():
            status = parser.get_status_code()
            if not parser.should_keep_alive() or self._size > MAX_RESPONSE:
                self._abort()
            waiter.set_result((status, b"".join(self._body)))

    # use
    def request(self, data: bytes, loop: asyncio.AbstractEventLoop) -> asyncio.Future[tuple[int, bytes]]:
        self._waiter = loop.create_future()
        self._parser = self._httptools.HttpResponseParser(self)
        self._body, self._size, self._received = [], 0, False
        self._headers_done = self._framed = False
        assert self.transport is not None
        self.transport.write(data)
        return self._waiter

    @property
    def answered_anything(self) -> bool:
        return self._received

    def time_out(self) -> None:
        self._fail(SendError("timeout: no answer in time"))
        self._abort()

    def _fail(self, exc: Exception) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(exc)
        self._parser = None

    def _abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()


class LeanSender:
    def __init__(self, concurrency: int) -> None:
        self._loop = asyncio.get_running_loop()
        self._idle: dict[tuple[str, str, int], deque[_Connection]] = {}
        self._max_idle = concurrency
        self._ssl: ssl.SSLContext | None = None

    async def _connect(self, scheme: str, host: str, port: int) -> _Connection:
        context = None
        if scheme == "https":
            if self._ssl is None:
                self._ssl = ssl.create_default_context()
            context = self._ssl
        _, protocol = await self._loop.create_connection(_Connection, host, port, ssl=context,
                                                         server_hostname=host if context else None)
        return protocol

    async def send(self, method: str, url: str, body: bytes | None, headers: dict[str, str],
                   timeout: float) -> tuple[int, bytes]:
        scheme, host, port, host_header, target = _origin(url)
        lines = [f"{method} {target} HTTP/1.1", f"Host: {host_header}"]
        lines.extend(f"{name}: {value}" for name, value in headers.items())
        if body is not None or method == "POST":
            lines.append(f"Content-Length: {len(body or b'')}")
        data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace") + (body or b"")
        deadline = self._loop.time() + timeout
        key = (scheme, host, port)
        idle = self._idle.setdefault(key, deque())
        while idle:
            conn = idle.pop()
            if conn.closed:
                continue
            try:
                return await self._use(key, conn, data, deadline)
            except SendError:
                if conn.answered_anything or self._loop.time() >= deadline:
                    raise
                # a kept-alive connection the server had closed: try again on a fresh one
        try:
            conn = await asyncio.wait_for(self._connect(scheme, host, port), max(0.001, deadline - self._loop.time()))
        except TimeoutError:
            raise SendError("timeout: no answer in time") from None
        except OSError as exc:
            raise SendError(f"{type(exc).__name__}: {exc}") from None
        return await self._use(key, conn, data, deadline)

    async def _use(self, key: tuple[str, str, int], conn: _Connection, data: bytes,
                   deadline: float) -> tuple[int, bytes]:
        # a timer rather than asyncio.wait_for, which costs a task per request
        timer = self._loop.call_at(deadline, conn.time_out)
        try:
            result = await conn.request(data, self._loop)
        except BaseException:
            conn._abort()
            raise
        finally:
            timer.cancel()
        idle = self._idle.setdefault(key, deque())
        if not conn.closed and len(idle) < self._max_idle:
            idle.append(conn)
        elif not conn.closed:
            conn._abort()
        return result

    async def close(self) -> None:
        for idle in self._idle.values():
            for conn in idle:
                conn._abort()
        self._idle.clear()


class HttpxSender:
    def __init__(self, concurrency: int, transport: Any) -> None:
        import httpx

        self._httpx = httpx
        self._client = httpx.AsyncClient(
            transport=transport, follow_redirects=False, trust_env=False,
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency))

    async def send(self, method: str, url: str, body: bytes | None, headers: dict[str, str],
                   timeout: float) -> tuple[int, bytes]:
        httpx = self._httpx
        try:
            response = await self._client.request(method, url, content=body, headers=headers, timeout=timeout)
            return response.status_code, response.content[:MAX_RESPONSE]
        except httpx.TimeoutException:
            raise SendError("timeout: no answer in time") from None
        except httpx.HTTPError as exc:
            raise SendError(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__) from None
        except (ValueError, OSError) as exc:
            raise SendError(f"{type(exc).__name__}: {exc}") from None

    async def close(self) -> None:
        await self._client.aclose()


def make_sender(concurrency: int, transport: Any = None) -> Sender:
    """An httpx client when a transport is injected, else the lean one (call inside the event loop)."""
    return HttpxSender(concurrency, transport) if transport is not None else LeanSender(concurrency)
