"""Where an event goes: the account's and the service's pre/post webhook URLs and the conversation's
scoped webhooks, each with its filter (an allow-list: an event not in it does not fire, and an empty
list fires nothing).

- Account level (`/v1/Configuration/Webhooks`): `Target=flex` routes to Flex, which Hubbub does not
  have, so only `Target=webhook` sends. The user events (`onUser*`) exist only at this level.
- Service level (`/v1/Services/{IS}/Configuration/Webhooks`).
- Conversation-scoped (`/Conversations/{CH}/Webhooks`, post-action only): `webhook` (its filters),
  `trigger` (an `onMessageAdded` whose body starts with one of the keywords, case-insensitively, as a
  whole word), `studio` (`onMessageAdded`, or its filters if it has any, posted to the flow's URL built
  from `HUBBUB_STUDIO_FLOW_URL`; without that setting the delivery is recorded as `unsupported`).

When the account and the service level name the same URL and method, the event is sent there once.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy import Connection, bindparam, event, select
from sqlalchemy.sql.dml import UpdateBase

from hubbub.store.prepared import Prepared
from hubbub.store.schema import (
    account_webhooks,
    accounts,
    configurations,
    conversation_webhooks,
    conversations,
    service_configurations,
    services,
)

# `HUBBUB_STUDIO_FLOW_URL`, e.g. https://webhooks.twilio.com/v1/Accounts/{AccountSid}/Flows/{FlowSid}
studio_flow_url: str | None = os.environ.get("HUBBUB_STUDIO_FLOW_URL") or None


@dataclass(frozen=True, slots=True)
class Target:
    level: str  # account | service | conversation
    url: str | None
    method: str  # GET | POST
    target: str = "webhook"  # webhook | trigger | studio
    webhook_sid: str | None = None
    unsupported: str | None = None  # why this target cannot be sent to (recorded, never sent)


_ACCOUNT = Prepared(select(account_webhooks.c.pre_webhook_url, account_webhooks.c.post_webhook_url,
                           account_webhooks.c.method, account_webhooks.c.filters, account_webhooks.c.target)
                    .where(account_webhooks.c.account_sid == bindparam("account_sid")))
_SERVICE = Prepared(select(service_configurations.c.pre_webhook_url, service_configurations.c.post_webhook_url,
                           service_configurations.c.webhook_method, service_configurations.c.webhook_filters)
                    .where(service_configurations.c.chat_service_sid == bindparam("service_sid")))
_SCOPED = Prepared(select(conversation_webhooks.c.sid, conversation_webhooks.c.target, conversation_webhooks.c.url,
                          conversation_webhooks.c.method, conversation_webhooks.c.filters,
                          conversation_webhooks.c.triggers, conversation_webhooks.c.flow_sid)
                   .where(conversation_webhooks.c.conversation_sid == bindparam("conversation_sid"))
                   .order_by(conversation_webhooks.c.id))
_MESSAGING_SERVICE = Prepared(select(conversations.c.messaging_service_sid)
                              .where(conversations.c.sid == bindparam("conversation_sid")))


@lru_cache(maxsize=4096)
def _names(text: str) -> frozenset[str]:
    try:
        values = orjson.loads(text)
    except orjson.JSONDecodeError:
        return frozenset()
    return frozenset(v for v in values if isinstance(v, str)) if isinstance(values, list) else frozenset()


@lru_cache(maxsize=4096)
def _keywords(text: str) -> tuple[str, ...]:
    try:
        values = orjson.loads(text)
    except orjson.JSONDecodeError:
        return ()
    return tuple(v.casefold() for v in values if isinstance(v, str) and v) if isinstance(values, list) else ()


def trigger_matches(keywords: tuple[str, ...], body: str | None) -> bool:
    """The body, trimmed and case-folded, is a keyword or starts with one followed by whitespace."""
    if not body:
        return False
    text = body.strip().casefold()
    return any(text == k or (text.startswith(k) and text[len(k)].isspace()) for k in keywords)


def _method(value: str | None) -> str:
    return "GET" if (value or "").upper() == "GET" else "POST"


def _account_row(conn: Connection, account_sid: str) -> tuple[Any, ...] | None:
    return _ACCOUNT.fetchone(conn, {"account_sid": account_sid})


def _service_row(conn: Connection, service_sid: str | None) -> tuple[Any, ...] | None:
    return None if service_sid is None else _SERVICE.fetchone(conn, {"service_sid": service_sid})


@dataclass(frozen=True, slots=True)
class PreConfig:
    """What pre-action calls of one account and service need: both levels' rows and the signing key."""

    service_sid: str
    account: tuple[Any, ...] | None
    service: tuple[Any, ...] | None
    auth_token: str | None

    def targets(self, event_type: str) -> list[Target]:
        """The pre-action URLs that `event_type` is sent to, account level first."""
        found: list[Target] = []
        if self.account is not None:
            pre, _post, method, filters, target = self.account
            if pre and target == "webhook" and event_type in _names(filters):
                found.append(Target("account", pre, _method(method)))
        if self.service is not None:
            pre, _post, method, filters = self.service
            if pre and event_type in _names(filters) and not any(
                    t.url == pre and t.method == _method(method) for t in found):
                found.append(Target("service", pre, _method(method)))
        return found


def pre_config(conn: Connection, account_sid: str, service_sid: str | None) -> PreConfig | None:
    """The account's pre-action configuration for a service (None: the account's default service); None
    when the service is not the account's (the action will answer 404 itself)."""
    if service_sid is None:
        service_sid = conn.execute(select(configurations.c.default_chat_service_sid).where(
            configurations.c.account_sid == account_sid)).scalar()
    elif conn.execute(select(services.c.sid).where(services.c.sid == service_sid,
                                                   services.c.account_sid == account_sid)).first() is None:
        return None
    if service_sid is None:
        return None
    token = conn.execute(select(accounts.c.auth_token).where(accounts.c.sid == account_sid)).scalar()
    return PreConfig(service_sid, _account_row(conn, account_sid), _service_row(conn, service_sid), token)


class ConfigCache:
    """An in-process cache of webhook configuration (and of each conversation's messaging service).

    An entry is used while no write made by this process has touched the tables it comes from since it
    was read (SQLAlchemy `before_execute` on the write engine, and again after the commit: so inside the
    writer's transaction a change is seen by the very next event), and for at most `ttl` seconds, which
    bounds how long a change made by another process (PostgreSQL deployments) goes unseen. It spares each
    event the configuration lookups, and SDK or webhook-enabled requests a read when no pre-action webhook
    is configured. Until `watch` is called (e.g. in the CLI) nothing is cached.
    """

    WATCHED = frozenset({"account_webhooks", "service_configurations", "configurations", "accounts", "services",
                         "conversation_webhooks", "conversations"})

    def __init__(self, ttl: float = 1.0) -> None:
        self.ttl = ttl
        self.generation = 0
        self.installed = False
        self._entries: dict[Any, tuple[int, float, Any]] = {}
        self._touched = threading.local()
        self._engines: set[int] = set()

    def watch(self, engine: Any, add_commit_listener: Any) -> None:
        if id(engine) in self._engines:
            return
        self._engines.add(id(engine))
        event.listen(engine, "before_execute", self._before_execute)
        add_commit_listener(self._after_commit)
        self.installed = True

    def _before_execute(self, conn: Any, clause: Any, *args: Any) -> None:
        if isinstance(clause, UpdateBase) and getattr(getattr(clause, "table", None), "name", None) in self.WATCHED:
            self.generation += 1
            self._touched.flag = True

    def _after_commit(self) -> None:
        if getattr(self._touched, "flag", False):
            self._touched.flag = False
            self.generation += 1

    def get(self, key: Any) -> tuple[bool, Any]:
        entry = self._entries.get(key)
        if entry is not None and entry[0] == self.generation and entry[1] > time.monotonic():
            return True, entry[2]
        return False, None

    def put(self, key: Any, value: Any, generation: int) -> None:
        if len(self._entries) > 50_000:
            self._entries.clear()
        self._entries[key] = (generation, time.monotonic() + self.ttl, value)

    def cached(self, key: Any, load: Any) -> Any:
        if not self.installed:
            return load()
        hit, value = self.get(key)
        if hit:
            return value
        generation = self.generation
        value = load()
        self.put(key, value, generation)
        return value


CACHE = ConfigCache()


def post_targets(conn: Connection, account_sid: str, service_sid: str | None, conversation_sid: str | None,
                 event_type: str, data: dict[str, Any]) -> list[Target]:
    """The post-action URLs that an event is delivered to (do not modify the list: it may be cached)."""
    if not CACHE.installed:
        return _post_targets(conn, account_sid, service_sid, conversation_sid, event_type, data)[0]
    # One lookup per event instead of three; not kept when a trigger webhook makes the answer depend on
    # the message's body.
    key = ("post", account_sid, service_sid, conversation_sid, event_type)
    hit, found = CACHE.get(key)
    if hit and found is not None:
        return found  # type: ignore[no-any-return]
    generation = CACHE.generation
    found, by_body = _post_targets(conn, account_sid, service_sid, conversation_sid, event_type, data)
    CACHE.put(key, None if by_body else found, generation)
    return found


def _post_targets(conn: Connection, account_sid: str, service_sid: str | None, conversation_sid: str | None,
                  event_type: str, data: dict[str, Any]) -> tuple[list[Target], bool]:
    """(the targets, whether they depend on the message's body)"""
    found: list[Target] = []
    by_body = False
    account = CACHE.cached(("account", account_sid), lambda: _account_row(conn, account_sid))
    if account is not None:
        _pre, post, method, filters, target = account
        if post and target == "webhook" and event_type in _names(filters):
            found.append(Target("account", post, _method(method)))
    service = CACHE.cached(("service", service_sid), lambda: _service_row(conn, service_sid))
    if service is not None:
        _pre, post, method, filters = service
        if post and event_type in _names(filters) and not any(
                t.url == post and t.method == _method(method) for t in found):
            found.append(Target("service", post, _method(method)))
    if conversation_sid is not None:
        scoped = CACHE.cached(("scoped", conversation_sid),
                              lambda: _SCOPED.fetchall(conn, {"conversation_sid": conversation_sid}))
        for sid, kind, url, method, filters, triggers, flow_sid in scoped:
            if kind == "webhook":
                if url and event_type in _names(filters):
                    found.append(Target("conversation", url, _method(method), "webhook", sid))
            elif kind == "trigger":
                by_body = True
                message = data.get("message") or {}
                if url and event_type == "onMessageAdded" and trigger_matches(_keywords(triggers),
                                                                              message.get("body")):
                    found.append(Target("conversation", url, _method(method), "trigger", sid))
            elif kind == "studio":
                wanted = _names(filters) or frozenset({"onMessageAdded"})
                if event_type in wanted:
                    found.append(studio_target(account_sid, sid, flow_sid))
    return found, by_body


def studio_target(account_sid: str, webhook_sid: str, flow_sid: str | None) -> Target:
    if studio_flow_url is None or flow_sid is None:
        return Target("conversation", None, "POST", "studio", webhook_sid,
                      unsupported="Studio flows are not supported: set HUBBUB_STUDIO_FLOW_URL to post to them")
    url = studio_flow_url.replace("{AccountSid}", account_sid).replace("{FlowSid}", flow_sid)
    return Target("conversation", url, "POST", "studio", webhook_sid)


def messaging_service_of(conn: Connection, conversation_sid: str) -> str | None:
    def load() -> str | None:
        row = _MESSAGING_SERVICE.fetchone(conn, {"conversation_sid": conversation_sid})
        return None if row is None else row[0]

    return CACHE.cached(("messaging_service", conversation_sid), load)  # type: ignore[no-any-return]
