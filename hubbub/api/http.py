"""Request handling shared by every Twilio-compatible route: authentication, form parsing, scope,
absolute URLs, idempotent retries and Twilio-style error bodies."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, delete, insert, select
from sqlalchemy.exc import IntegrityError
from starlette.requests import Request
from starlette.responses import Response

from hubbub.actions.common import Scope
from hubbub.api.forms import Form
from hubbub.domain import clock
from hubbub.domain.sids import is_sid
from hubbub.errors import (
    IdempotencyKeyReused,
    InvalidParameter,
    NotFound,
    TwilioError,
    UnsupportedMediaType,
)
from hubbub.store.schema import idempotency_keys

log = logging.getLogger(__name__)

MAX_BODY = 1 << 20
IDEMPOTENCY_TTL = 24 * 3600
_HOST_RE = re.compile(r"^[A-Za-z0-9.\-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$")
_FORM_TYPE = "application/x-www-form-urlencoded"


def json_response(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS), status_code=status,
                    media_type="application/json")


def error_response(error: TwilioError) -> Response:
    return json_response(error.body(), error.status)


@dataclass(slots=True)
class Call:
    """One authenticated API request."""

    request: Request
    scope: Scope
    form: Form
    base_url: str
    idempotency_key: str | None = None

    @property
    def path(self) -> dict[str, str]:
        return self.request.path_params

    @property
    def query(self) -> Any:
        return self.request.query_params

    @property
    def db(self) -> Any:
        return self.request.app.state.hubbub.db

    def url(self, path: str) -> str:
        return self.base_url + path

    @property
    def prefix(self) -> str:
        """Absolute URL of the API root this request used: `/v1` or `/v1/Services/IS…`."""
        service = self.scope.service_sid
        return f"{self.base_url}/v1/Services/{service}" if service else f"{self.base_url}/v1"

    async def write(self, fn: Callable[[Connection], Any], render: Callable[[Any], Any] | None,
                    status: int = 200, key: str | None = None) -> Response:
        """Run an action's write and answer with `render(result)` (or 204 when `render` is None).

        With an idempotency key the key is claimed, and the answer stored, in the same transaction as
        the change, so a retry of a committed request gets the first answer and writes nothing.
        `key` is the conversation the write locks first (see `Database.write`).
        """
        if self.idempotency_key is None:
            result = await self.db.write(fn, key)
            return Response(status_code=204) if render is None else json_response(render(result), status)
        return await _idempotent_write(self, self.idempotency_key, fn, render, status)


_BASE_URLS: dict[tuple[str, str | None, str | None, str | None], str] = {}


def header_map(request: Request) -> dict[bytes, bytes]:
    """The raw request headers by (lower-case) name, first occurrence winning as in Starlette's
    `Headers.get`; a dict because `Headers` scans the whole list on every look-up."""
    return dict(reversed(request.scope["headers"]))


def header(headers: dict[bytes, bytes], name: bytes) -> str | None:
    value = headers.get(name)
    return None if value is None else value.decode("latin-1")


def base_url(request: Request, headers: dict[bytes, bytes] | None = None) -> str:
    """The server's externally visible origin, so `url`, `links` and page URLs point back here."""
    configured = request.app.state.hubbub.settings.public_url
    if configured:
        return configured.rstrip("/")
    if headers is None:
        headers = header_map(request)
    scheme: str = request.scope["scheme"]
    key = (scheme, header(headers, b"x-forwarded-proto"), header(headers, b"x-forwarded-host"),
           header(headers, b"host"))
    found = _BASE_URLS.get(key)
    if found is None:
        found = _origin(request, *key)
        if len(_BASE_URLS) < 1024:  # a handful of hosts in practice; never grow without bound
            _BASE_URLS[key] = found
    return found


def _origin(request: Request, scheme: str, forwarded_proto: str | None, forwarded_host: str | None,
            host_header: str | None) -> str:
    proto = (forwarded_proto or scheme).split(",")[0].strip().lower()
    if proto not in ("http", "https"):
        proto = scheme
    host = (forwarded_host or host_header or "").split(",")[0].strip()
    if not host or not _HOST_RE.match(host):
        server = request.scope.get("server") or ("127.0.0.1", 8080)
        host = f"{server[0]}:{server[1]}"
    return f"{proto}://{host}"


async def read_form(request: Request, headers: dict[bytes, bytes] | None = None) -> Form:
    """The POST body as a `Form` (Twilio's encoding only); other methods have an empty one."""
    if request.method != "POST":
        return Form({})
    body = await request.body()
    if len(body) > MAX_BODY:
        raise TwilioError("Request body too large", code=20413, status=413)
    if not body:
        return Form({})
    if headers is None:
        headers = header_map(request)
    content_type = (header(headers, b"content-type") or "").split(";")[0].strip().lower()
    if content_type != _FORM_TYPE:
        raise UnsupportedMediaType(f"Content-Type must be {_FORM_TYPE}")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidParameter("The request body is not valid UTF-8") from None
    return Form.parse(text)


def _check_query(request: Request) -> None:
    """Query values reach SQL filters; NUL bytes are refused everywhere (PostgreSQL cannot store them)."""
    if not request.scope["query_string"]:
        return
    for key, value in request.query_params.multi_items():
        if "\x00" in value or "\x00" in key or len(value) > 4096:
            raise InvalidParameter(f"Invalid {key[:64]}: NUL characters or over-long values are not allowed")


Handler = Callable[[Call], Awaitable[Response]]


def endpoint(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def run(request: Request) -> Response:
        try:
            hub = request.app.state.hubbub
            headers = header_map(request)
            account_sid = await hub.auth.account_for(header(headers, b"authorization"))
            if any("\x00" in value for value in request.path_params.values()):
                # no SID, unique name or identity contains NUL (PostgreSQL cannot even compare one)
                raise NotFound(f"The requested resource {request.url.path[:256]} was not found")
            service = request.path_params.get("ChatServiceSid")
            if service is not None and not is_sid(service, "IS"):
                raise NotFound(f"The requested resource /Services/{service} was not found")
            webhook = (header(headers, b"x-twilio-webhook-enabled") or "false").lower() == "true"
            scope = Scope(account_sid, service, "API", webhook)
            _check_query(request)
            call = Call(request, scope, await read_form(request, headers), base_url(request, headers))
            key = header(headers, b"i-twilio-idempotency-token") or header(headers, b"idempotency-key")
            if key and request.method == "POST":
                if len(key) > 256:
                    raise InvalidParameter("Idempotency key must be at most 256 characters")
                call.idempotency_key = key
            return await handler(call)
        except TwilioError as exc:
            return error_response(exc)
        except Exception:
            log.exception("unhandled error on %s %s", request.method, request.url.path)
            return error_response(TwilioError("Internal server error", code=20500, status=500))

    run.__name__ = handler.__name__
    return run


def purge_idempotency_keys(conn: Connection) -> int:
    result = conn.execute(delete(idempotency_keys).where(
        idempotency_keys.c.date_created < clock.now() - IDEMPOTENCY_TTL))
    return int(result.rowcount or 0)


async def _idempotent_write(call: Call, key: str, fn: Callable[[Connection], Any],
                            render: Callable[[Any], Any] | None, status: int) -> Response:
    request = call.request
    fingerprint = hashlib.sha256(request.method.encode() + request.url.path.encode() + b"?"
                                 + call.form.canonical()).hexdigest()
    account = call.scope.account_sid
    key_filter = (idempotency_keys.c.account_sid == account) & (idempotency_keys.c.key == key)

    def job(conn: Connection) -> tuple[int, str]:
        row = conn.execute(select(idempotency_keys.c.request_hash, idempotency_keys.c.status,
                                  idempotency_keys.c.body, idempotency_keys.c.date_created)
                           .where(key_filter)).first()
        if row is not None and row.date_created >= clock.now() - IDEMPOTENCY_TTL:
            if row.request_hash != fingerprint:
                raise IdempotencyKeyReused("This idempotency key was already used with a different request")
            return row.status, row.body
        result = fn(conn)
        answer = (204, "") if render is None else (status, orjson.dumps(render(result)).decode())
        conn.execute(delete(idempotency_keys).where(key_filter))
        conn.execute(insert(idempotency_keys).values(account_sid=account, key=key, request_hash=fingerprint,
                                                     status=answer[0], body=answer[1],
                                                     date_created=clock.now()))
        return answer

    try:
        answer_status, body = await call.db.write(job)
    except IntegrityError:  # a concurrent request with the same key committed first
        answer_status, body = await call.db.write(job)
    if answer_status == 204:
        return Response(status_code=204)
    return Response(body, status_code=answer_status, media_type="application/json")
