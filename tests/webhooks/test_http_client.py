"""The default outbound HTTP client (hubbub/webhooks/http.py LeanSender) against real peers on loopback:
keep-alive reuse, a server that closes idle connections, chunked and close-delimited bodies, timeouts,
refused connections."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable, Iterator

import pytest

from hubbub.webhooks.http import LeanSender, SendError

from .receiver import Receiver, Reply


class RawServer:
    """A TCP server that answers each connection with `respond(request bytes) -> response bytes`."""

    def __init__(self, respond: Callable[[bytes], bytes | None], close_after: bool = False) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._respond, self._close_after = respond, close_after
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            while True:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                head, _, rest = data.partition(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                while len(rest) < length:
                    rest += conn.recv(65536)
                reply = self._respond(head)
                if reply is None:
                    return  # hang up without answering
                conn.sendall(reply)
                if self._close_after:
                    return

    def close(self) -> None:
        self.sock.close()


def run(coro: object) -> object:
    return asyncio.run(coro)  # type: ignore[arg-type]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()
    yield rec
    rec.stop()


def test_keep_alive_and_exact_request(receiver: Receiver) -> None:
    async def scenario() -> list[int]:
        sender = LeanSender(4)
        try:
            statuses = []
            for n in range(5):
                status, _ = await sender.send("POST", receiver.url(f"/k?n={n}"), b"A=1&B=%C3%A9",
                                              {"Content-Type": "application/x-www-form-urlencoded"}, 5)
                statuses.append(status)
            return statuses
        finally:
            await sender.close()

    assert run(scenario()) == [200] * 5
    recs = receiver.at("/k")
    assert [r.path for r in recs] == [f"/k?n={n}" for n in range(5)]
    assert recs[0].params == [("A", "1"), ("B", "é")]
    assert recs[0].headers["host"] == f"127.0.0.1:{receiver.port}"


def test_response_body_and_status(receiver: Receiver) -> None:
    receiver.on("/json", lambda rec: Reply(201, b'{"body": "changed"}'))

    async def scenario() -> tuple[int, bytes]:
        sender = LeanSender(1)
        try:
            return await sender.send("GET", receiver.url("/json?x=1"), None, {}, 5)
        finally:
            await sender.close()

    assert run(scenario()) == (201, b'{"body": "changed"}')


def test_server_closing_idle_connections_is_retried_on_a_new_one() -> None:
    server = RawServer(lambda head: b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", close_after=True)

    async def scenario() -> list[tuple[int, bytes]]:
        sender = LeanSender(2)
        try:
            out = []
            for _ in range(3):
                out.append(await sender.send("POST", f"http://127.0.0.1:{server.port}/", b"x", {}, 5))
                await asyncio.sleep(0.05)  # the server has closed the connection by now
            return out
        finally:
            await sender.close()

    try:
        assert run(scenario()) == [(200, b"ok")] * 3
        assert server.connections == 3
    finally:
        server.close()


@pytest.mark.parametrize("reply, body", [
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", b"abcde"),
    (b"HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\nuntil the end", b"until the end"),
])
def test_chunked_and_close_delimited_bodies(reply: bytes, body: bytes) -> None:
    server = RawServer(lambda head: reply, close_after=True)

    async def scenario() -> tuple[int, bytes]:
        sender = LeanSender(1)
        try:
            return await sender.send("POST", f"http://127.0.0.1:{server.port}/", b"", {}, 5)
        finally:
            await sender.close()

    try:
        status, got = run(scenario())  # type: ignore[misc]
        assert got == body and status in (200, 404)
    finally:
        server.close()


def test_timeout_refused_and_hang_up(receiver: Receiver) -> None:
    receiver.on("/slow", lambda rec: Reply(200, delay=1.0))
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    refused_port = closed.getsockname()[1]
    closed.close()
    hangup = RawServer(lambda head: None)

    async def scenario() -> list[str]:
        sender = LeanSender(2)
        errors = []
        try:
            for url, timeout in ((receiver.url("/slow"), 0.2), (f"http://127.0.0.1:{refused_port}/", 2),
                                 (f"http://127.0.0.1:{hangup.port}/", 2), ("ftp://example.com/", 2)):
                with pytest.raises(SendError) as info:
                    await sender.send("POST", url, b"x", {}, timeout)
                errors.append(str(info.value))
            # the client still works after all that
            assert (await sender.send("POST", receiver.url("/fine"), b"x", {}, 2))[0] == 200
        finally:
            await sender.close()
        return errors

    try:
        timeout, refused, hung, scheme = run(scenario())  # type: ignore[misc]
        assert timeout.startswith("timeout")
        assert "Connect" in refused or "refused" in refused.lower()
        assert "closed" in hung
        assert "http" in scheme
    finally:
        hangup.close()
