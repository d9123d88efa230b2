"""Fixtures for the webhook and lifecycle tests: a Hubbub server started with short retry schedules and
the test clock (HUBBUB_TESTING=1), on SQLite and (with HUBBUB_TEST_POSTGRES_URL) PostgreSQL, plus a real
HTTP receiver on loopback.

Each test gets its own Conversation Service (`hooks` fixture) whose service-level webhooks point at a
path of the receiver only that test uses, so tests sharing the server never see each other's events.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    OTHER_ACCOUNT_SID,
    OTHER_AUTH_TOKEN,
    Server,
    _backends,
    _drop_postgres_database,
    _postgres_database,
    start_server,
    stop_server,
)
from sqlalchemy import create_engine

from hubbub.store.database import sqlalchemy_url

from .receiver import Receiver

SERVICE_FILTERS = [
    "onMessageAdded", "onMessageUpdated", "onMessageRemoved", "onMessageAdd", "onMessageUpdate",
    "onMessageRemove", "onConversationUpdated", "onConversationRemoved", "onConversationAdd",
    "onConversationAdded", "onConversationRemove", "onConversationUpdate", "onConversationStateUpdated",
    "onParticipantAdded", "onParticipantUpdated", "onParticipantRemoved", "onParticipantAdd",
    "onParticipantRemove", "onParticipantUpdate", "onDeliveryUpdated",
]
POST_FILTERS = [f for f in SERVICE_FILTERS if f.endswith("ed")]

# Short, so that a whole retry cycle takes about a second: 1 attempt + 3 retries.
SERVER_ENV = {
    "HUBBUB_TESTING": "1",
    "HUBBUB_WEBHOOK_RETRY_SCHEDULE": "0.2s,0.3s,0.4s",
    "HUBBUB_WEBHOOK_TIMEOUT": "2s",
    "HUBBUB_PRE_WEBHOOK_TIMEOUT": "1s",
    "HUBBUB_WEBHOOK_POLL_INTERVAL": "0.2s",
    "HUBBUB_WEBHOOK_LEASE": "2s",
    "HUBBUB_WEBHOOK_LOG_RETENTION": "1h",
    "HUBBUB_WEBHOOK_PURGE_INTERVAL": "0.5s",
}

_paths = itertools.count(1)


@dataclass
class Database:
    backend: str
    url: str
    admin_url: str | None = None
    pg_name: str | None = None

    def drop(self) -> None:
        if self.pg_name and self.admin_url:
            _drop_postgres_database(self.admin_url, self.pg_name)


def new_database(backend: str, tmp: Path) -> Database:
    if backend == "sqlite":
        return Database(backend, f"sqlite:///{tmp / 'hubbub.db'}")
    name = f"hubbub_wh_{secrets.token_hex(4)}"
    url, admin = _postgres_database(name)
    return Database(backend, url, admin, name)


def launch(db: Database, log: Path, env: dict[str, str] | None = None) -> Server:
    process, url = start_server(db.url, log, {**SERVER_ENV, **(env or {})})
    return Server(db.backend, url, db.url, process, log, create_engine(sqlalchemy_url(db.url)))


@pytest.fixture(scope="session", params=_backends())
def wh_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp(f"webhooks-{request.param}")
    db = new_database(request.param, tmp)
    srv = launch(db, tmp / "server.log")
    with srv.engine.begin() as conn:
        from hubbub.actions.accounts import do_ensure_account

        do_ensure_account(conn, OTHER_ACCOUNT_SID, OTHER_AUTH_TOKEN)
    try:
        yield srv
    finally:
        stop_server(srv.process)
        srv.engine.dispose()
        db.drop()
        log_text = (tmp / "server.log").read_text(errors="replace")
        assert "unhandled error" not in log_text, log_text[-5000:]
        assert "Traceback" not in log_text, log_text[-5000:]


@pytest.fixture(scope="session")
def receiver() -> Iterator[Receiver]:
    rec = Receiver()
    yield rec
    rec.stop()


@pytest.fixture
def client(wh_server: Server) -> Any:
    return wh_server.client()


@dataclass
class Hooks:
    """A fresh Conversation Service whose service-level webhooks point at `post_path` / `pre_path`."""

    server: Server
    receiver: Receiver
    client: Any
    service_sid: str
    post_path: str
    pre_path: str

    @property
    def service(self) -> Any:
        return self.client.conversations.v1.services(self.service_sid)

    def configure(self, *, post: bool = True, pre: bool = False, filters: list[str] | None = None,
                  method: str = "POST") -> None:
        self.service.configuration.webhooks().update(
            post_webhook_url=self.receiver.url(self.post_path) if post else "",
            pre_webhook_url=self.receiver.url(self.pre_path) if pre else "",
            filters=filters if filters is not None else SERVICE_FILTERS, method=method)

    def conversation(self, **kw: Any) -> Any:
        return self.service.conversations.create(x_twilio_webhook_enabled="true", **kw)

    def delete(self, path: str, webhook: bool = True) -> None:
        """DELETE /v1/Services/{IS}{path} with X-Twilio-Webhook-Enabled (twilio-python's delete() drops it)."""
        response = self.server.http("DELETE", f"/v1/Services/{self.service_sid}{path}",
                                    headers={"X-Twilio-Webhook-Enabled": "true" if webhook else "false"})
        assert response.status_code == 204, response.text

    def events(self, event_type: str | None = None) -> list[Any]:
        return self.receiver.events(self.post_path, event_type)

    def wait(self, event_type: str | None = None, count: int = 1) -> list[Any]:
        return self.receiver.wait_for(self.post_path, count, event_type)

    def deliveries(self, **query: str) -> list[dict[str, Any]]:
        response = self.server.http("GET", "/hubbub/v1/WebhookDeliveries",
                                    params={"PageSize": "100", **query})
        assert response.status_code == 200, response.text
        return [d for d in response.json()["deliveries"] if d["chat_service_sid"] == self.service_sid]


@pytest.fixture
def hooks(wh_server: Server, receiver: Receiver, client: Any, request: pytest.FixtureRequest) -> Hooks:
    n = next(_paths)
    service = client.conversations.v1.services.create(friendly_name=f"webhooks {request.node.name}"[:256])
    h = Hooks(wh_server, receiver, client, service.sid, f"/post/{n}", f"/pre/{n}")
    h.configure()
    return h


def advance_clock(server: Server, seconds: float) -> None:
    response = server.http("POST", "/hubbub/v1/Testing/Clock", data={"Advance": str(seconds)})
    assert response.status_code == 200, response.text


__all__ = ["ACCOUNT_SID", "AUTH_TOKEN", "Hooks", "advance_clock", "launch", "new_database"]
