"""A real HTTP webhook receiver on loopback (stdlib `ThreadingHTTPServer`), for the webhook tests and the
benchmark: it records every request (method, path with query, headers, form parameters, arrival time)
and answers per path as the test says (status, body, delay)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from twilio.request_validator import RequestValidator


@dataclass
class Received:
    method: str
    path: str  # with the query string
    headers: dict[str, str]  # lower-case names
    params: list[tuple[str, str]]  # the form body (POST) or the query (GET)
    arrived: float = field(default_factory=time.monotonic)

    @property
    def route(self) -> str:
        return urlsplit(self.path).path

    @property
    def form(self) -> dict[str, str]:
        return dict(self.params)

    @property
    def token(self) -> str | None:
        return self.headers.get("i-twilio-idempotency-token")


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    delay: float = 0.0
    content_type: str = "application/json"


Behaviour = Callable[[Received], Reply]


class Receiver:
    def __init__(self, port: int = 0) -> None:
        self.requests: list[Received] = []
        self.behaviours: dict[str, Behaviour] = {}
        self._lock = threading.Lock()
        self._port = port
        self._server: ThreadingHTTPServer | None = None
        self.start()

    # -- lifecycle -----------------------------------------------------------------------------------------
    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length).decode("utf-8") if length else ""
                query = urlsplit(self.path).query
                params = parse_qsl(body if self.command == "POST" else query, keep_blank_values=True)
                rec = Received(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, params)
                with receiver._lock:
                    receiver.requests.append(rec)
                    behaviour = receiver.behaviours.get(rec.route)
                reply = behaviour(rec) if behaviour else Reply()
                if reply.delay:
                    time.sleep(reply.delay)
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", reply.content_type)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except OSError:
                    pass

            do_GET = do_POST = _handle  # noqa: N815

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self._port), Handler)
        self._server.daemon_threads = True
        self._port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        """Stop listening (requests then get connection refused); `start()` listens again on the same port."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def port(self) -> int:
        return self._port

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self._port}{path}"

    # -- behaviour and inspection ----------------------------------------------------------------------------
    def on(self, path: str, behaviour: Behaviour) -> None:
        with self._lock:
            self.behaviours[path] = behaviour

    def at(self, path: str) -> list[Received]:
        with self._lock:
            return [r for r in self.requests if r.route == path]

    def events(self, path: str, event_type: str | None = None) -> list[Received]:
        return [r for r in self.at(path) if event_type is None or r.form.get("EventType") == event_type]

    def wait(self, predicate: Callable[[], object], timeout: float = 30.0, what: str = "") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.02)
        raise AssertionError(f"timed out waiting for {what or predicate}; received: "
                             f"{[(r.route, r.form.get('EventType')) for r in self.requests[-20:]]}")

    def wait_for(self, path: str, count: int = 1, event_type: str | None = None, timeout: float = 30.0
                 ) -> list[Received]:
        self.wait(lambda: len(self.events(path, event_type)) >= count, timeout,
                  f"{count} × {event_type or 'any event'} at {path}")
        return self.events(path, event_type)


def wait_until(predicate: Callable[[], object], timeout: float = 30.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what or predicate}")


def fails_first(n: int, status: int = 500) -> Behaviour:
    """Answer `status` to the first `n` requests of each idempotency token, then 200."""
    seen: dict[str | None, int] = {}
    lock = threading.Lock()

    def behaviour(rec: Received) -> Reply:
        with lock:
            seen[rec.token] = seen.get(rec.token, 0) + 1
            count = seen[rec.token]
        return Reply(status if count <= n else 200)

    return behaviour


def signature_valid(receiver: Receiver, rec: Received, auth_token: str) -> bool:
    """Check X-Twilio-Signature with the official helper library's validator."""
    validator = RequestValidator(auth_token)
    url = receiver.url(rec.path)
    params = dict(rec.params) if rec.method == "POST" else {}
    return bool(validator.validate(url, params, rec.headers.get("x-twilio-signature", "")))
