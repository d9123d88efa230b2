"""Composition root: settings → database → authenticator → routes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.requests import Request
from starlette.responses import Response

from hubbub.actions.accounts import Credentials, do_ensure_account
from hubbub.api.auth import Authenticator
from hubbub.api.http import error_response, purge_idempotency_keys
from hubbub.api.routes import routes
from hubbub.api.routing import RouteTable
from hubbub.errors import MethodNotAllowed, NotFound, TwilioError
from hubbub.media import start_media
from hubbub.realtime.hub import Hub
from hubbub.settings import Settings
from hubbub.store import migrate
from hubbub.store.database import Database
from hubbub.webhooks.runtime import start_webhooks

log = logging.getLogger("hubbub")


@dataclass
class Hubbub:
    settings: Settings
    db: Database
    auth: Authenticator
    credentials: Credentials


def open_database(settings: Settings) -> Database:
    db = Database(settings.database_url, synchronous=settings.sqlite_synchronous)
    migrate.upgrade(db.write_engine)
    return db


def bootstrap(settings: Settings) -> Hubbub:
    db = open_database(settings)
    credentials = db.run_sync_write(
        lambda conn: do_ensure_account(conn, settings.account_sid, settings.auth_token))
    return Hubbub(settings, db, Authenticator(db), credentials)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return error_response(NotFound(f"The requested resource {request.url.path} was not found"))
    if exc.status_code == 405:
        return error_response(MethodNotAllowed(f"Method {request.method} not allowed"))
    return error_response(TwilioError(str(exc.detail), code=20000 + exc.status_code, status=exc.status_code))


def create_app(settings: Settings | None = None, *, announce: bool = False) -> Starlette:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        hub = bootstrap(settings)
        if announce:
            _announce(hub)
        hub.db.start()
        app.state.hubbub = hub
        maintenance = asyncio.create_task(_maintenance(hub))
        media = await start_media(app, hub.db, settings)  # media store and its file sweeper (hubbub/media)
        webhooks = await start_webhooks(app, hub.db)
        sms = await _start_sms(hub)
        app.state.realtime = Hub(hub.db)  # the WebSocket gateway's event fan-out (hubbub/realtime)
        await app.state.realtime.start()
        try:
            yield
        finally:
            await media.stop()
            await app.state.realtime.stop()
            maintenance.cancel()
            await webhooks.stop()
            if sms is not None:
                await sms.stop()
            hub.db.close()

    app = HubbubApp(routes=routes, lifespan=lifespan, exception_handlers={HTTPException: _http_error})
    app.router.default = _not_found
    return app


class HubbubApp(Starlette):
    """Starlette with a direct path for the API's resources and no `ServerErrorMiddleware`.

    Every endpoint renders its own errors, 500 included (api/http.py `endpoint`), so a request whose
    path `RouteTable` knows goes straight to its endpoint: no router scan, no exception middleware.
    Everything else (WebSockets, static files, unknown paths, lifespan) takes Starlette's usual path,
    where unknown paths get `_not_found` from the router and `ExceptionMiddleware` handles anything
    that raises HTTPException.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._table = RouteTable(self.router.routes)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and not scope.get("root_path"):
            found = self._table.match(scope["path"], scope["method"])
            if found is not None:
                scope["app"] = self
                scope["path_params"] = found[1]
                response = await found[0](Request(scope, receive, send))
                await response(scope, receive, send)
                return
        await super().__call__(scope, receive, send)

    def build_middleware_stack(self) -> Any:
        return ExceptionMiddleware(self.router, handlers=self.exception_handlers)


async def _not_found(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1000})
        return
    if scope["type"] != "http":
        return
    response = error_response(NotFound(f"The requested resource {scope['path'][:256]} was not found"))
    await response(scope, receive, send)


async def _start_sms(hub: Hubbub) -> Any:
    """The SMS worker (hubbub/channels/sms), only when SMPP connections are configured."""
    if not hub.settings.sms_config:
        return None
    from hubbub.channels.sms.config import load
    from hubbub.channels.sms.worker import SmsWorker

    worker = SmsWorker(hub.db, load(hub.settings.sms_config))  # type: ignore[arg-type]
    await worker.start()
    return worker


MAINTENANCE_INTERVAL = 600.0


async def _maintenance(hub: Hubbub) -> None:
    """Periodic housekeeping: forget idempotency keys older than their 24-hour lifetime."""
    while True:
        try:
            await hub.db.write(purge_idempotency_keys)
        except Exception:
            log.exception("maintenance failed")
        await asyncio.sleep(MAINTENANCE_INTERVAL)


def _announce(hub: Hubbub) -> None:
    creds = hub.credentials
    print(f"Hubbub {'created' if creds.created else 'using'} account", flush=True)
    print(f"  Account SID: {creds.account_sid}", flush=True)
    print(f"  Auth Token:  {creds.auth_token}", flush=True)
    print(f"  Database:    {hub.settings.database_url}", flush=True)
    print(f"  Listening:   http://{hub.settings.host}:{hub.settings.port}", flush=True)
