"""Pre-action webhooks: called in the request path, before the write, by the API handlers.

For `onMessageAdd`, `onMessageUpdate`, `onMessageRemove`, `onConversationAdd`, `onConversationUpdate`,
`onConversationRemove`, `onParticipantAdd`, `onParticipantUpdate`, `onParticipantRemove` and
`onUserUpdate`, when the action fires webhooks (SDK and channel actions always; REST only with
`X-Twilio-Webhook-Enabled: true`) and the account or service level has a `PreWebhookUrl` whose filters
list the event. The account level is called first, then the service level (with the first one's changes).

The answer decides (twilio-behaviour.md §1.5):
- 2xx with a JSON object: the action proceeds with the allowed fields replaced (`body`, `author`,
  `attributes` for messages; `friendly_name` for conversations); missing keys, an empty body or `{}`
  change nothing. A replaced value that is not valid is the caller's 400, as if it had sent it.
- 4xx / 5xx: the action is rejected, nothing is written; the caller gets 403 with code 50070.
- no answer within `HUBBUB_PRE_WEBHOOK_TIMEOUT` (5 s), or an unreachable URL: the action proceeds unmodified.

Every call is recorded in the delivery log (`kind=pre`) after the fact, off the request path.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable
from typing import Any

import orjson
from sqlalchemy import Connection, select

from hubbub import errors
from hubbub.actions.common import Scope, get_conversation, service_sid
from hubbub.domain import clock
from hubbub.errors import InvalidParameter, TwilioError
from hubbub.store.database import Database
from hubbub.store.schema import messages, participants, users
from hubbub.webhooks import store
from hubbub.webhooks.config import WebhookSettings
from hubbub.webhooks.http import make_sender
from hubbub.webhooks.payloads import event_params
from hubbub.webhooks.sending import send_signed
from hubbub.webhooks.targets import CACHE, PreConfig, Target, pre_config

log = logging.getLogger(__name__)

# The same limits the API applies to these fields (api/messages.py, api/conversations.py).
MAX_BODY_BYTES = 32 * 1024
MAX_MESSAGE_ATTRIBUTES = 4 * 1024
MAX_NAME = 256

# Builds (the service SID, the event data) from the database; None when the action will fail anyway.
Context = Callable[[Connection], "tuple[str | None, dict[str, Any]] | None"]


class PreWebhooks:
    """The pre-action caller of one server process (on `app.state.pre_webhooks`)."""

    def __init__(self, db: Database, settings: WebhookSettings, transport: Any = None) -> None:
        """Call inside the event loop; `transport`: an httpx transport instead of the default client."""
        self.db = db
        self.timeout = settings.pre_timeout
        self._sender = make_sender(settings.concurrency, transport)
        self._log_tasks: set[asyncio.Task[Any]] = set()
        CACHE.watch(db.write_engine, db.add_commit_listener)

    async def close(self) -> None:
        if self._log_tasks:
            await asyncio.wait(self._log_tasks, timeout=2.0)
        await self._sender.close()

    def nothing_to_call(self, scope: Scope, event_type: str) -> bool:
        """True when the cached configuration shows no pre-action URL for this event (False: not cached,
        or something to call)."""
        hit, config = CACHE.get(("pre", scope.account_sid, scope.service_sid))
        return hit and (config is None or config.auth_token is None or not config.targets(event_type))

    async def _config(self, scope: Scope) -> PreConfig | None:
        key = ("pre", scope.account_sid, scope.service_sid)
        hit, config = CACHE.get(key)
        if hit:
            return config  # type: ignore[no-any-return]
        generation = CACHE.generation
        config = await self.db.read(lambda conn: pre_config(conn, scope.account_sid, scope.service_sid))
        CACHE.put(key, config, generation)
        return config

    async def call(self, scope: Scope, event_type: str, context: Context) -> dict[str, Any]:
        """Call the pre-action URLs for one action; returns the modifications (key → value) they asked for.

        Raises TwilioError (403, 50070) when one rejects the action.
        """
        config = await self._config(scope)
        if config is None or config.auth_token is None:
            return {}
        targets = config.targets(event_type)
        if not targets:
            return {}  # the common case: nothing to call, and no database read

        def read(conn: Connection) -> Any:
            try:
                return context(conn)
            except TwilioError:
                return None  # the write itself will answer with the right error

        found = await self.db.read(read)
        if found is None:
            return {}
        service, data = found
        token = config.auth_token
        changes: dict[str, Any] = {}
        attempts: list[dict[str, Any]] = []
        try:
            for target in targets:
                params = event_params(event_type, data, account_sid=scope.account_sid, source=scope.source,
                                      client_identity=scope.client_identity, event_date=clock.now())
                params.append(("RetryCount", "0"))
                started = clock.now_ms()
                status, content, error, latency = await send_signed(self._sender, token, target.method,
                                                                    target.url or "", params, self.timeout)
                attempts.append(_attempt(scope, service, data, event_type, target, status, error, latency,
                                         started))
                if status is None:
                    log.info("pre-action webhook %s for %s: %s; proceeding unmodified", target.url, event_type,
                             error)
                    continue
                if status >= 400:
                    raise TwilioError(f"The action was rejected by the {event_type} pre-action webhook "
                                      f"(HTTP {status})", code=errors.PRE_WEBHOOK_REJECTED, status=403)
                if 200 <= status < 300:
                    asked = _modifications(content)
                    changes.update(asked)
                    data = _apply_to_data(data, asked)
        finally:
            self._record(attempts)
        return changes

    def _record(self, attempts: list[dict[str, Any]]) -> None:
        if not attempts:
            return
        task = asyncio.create_task(self._write_attempts(attempts))
        self._log_tasks.add(task)
        task.add_done_callback(self._log_tasks.discard)

    async def _write_attempts(self, attempts: list[dict[str, Any]]) -> None:
        try:
            await self.db.write(lambda conn: store.record_pre_attempts(conn, attempts))
        except Exception:
            log.exception("could not record pre-action webhook attempts")


def _attempt(scope: Scope, service: str | None, data: dict[str, Any], event_type: str, target: Target,
             status: int | None, error: str | None, latency: int, started: int) -> dict[str, Any]:
    row = next((v for v in data.values() if isinstance(v, dict)), {})
    conversation = row.get("conversation_sid") or (row.get("sid") if "conversation" in data else None)
    return {"account_sid": scope.account_sid, "chat_service_sid": service, "conversation_sid": conversation,
            "event_type": event_type, "level": target.level, "url": target.url or "", "method": target.method,
            "attempt": 0, "status_code": status,
            "ok": error is None, "error": None if error is None else error[:512], "latency_us": latency,
            "created_ms": started}


_ALIASES = {"body": "body", "Body": "body", "author": "author", "Author": "author", "attributes": "attributes",
            "Attributes": "attributes", "friendly_name": "friendly_name", "FriendlyName": "friendly_name",
            "friendlyName": "friendly_name"}


def _modifications(content: bytes) -> dict[str, Any]:
    """The fields a 2xx answer asks to change; an empty or non-JSON-object answer changes nothing."""
    if not content.strip():
        return {}
    try:
        body = orjson.loads(content)
    except orjson.JSONDecodeError:
        return {}
    if not isinstance(body, dict):
        return {}
    return {_ALIASES[k]: v for k, v in body.items() if k in _ALIASES}


def _apply_to_data(data: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """The event data as the next pre-action URL sees it."""
    out = {}
    for key, row in data.items():
        if isinstance(row, dict):
            row = dict(row)
            for name, value in changes.items():
                row[name] = value if name != "attributes" or isinstance(value, str) else orjson.dumps(value).decode()
        out[key] = row
    return out


def _text(name: str, value: Any, max_len: int) -> str:
    if not isinstance(value, str):
        raise InvalidParameter(f"Invalid {name} from the pre-action webhook: must be a string")
    if len(value) > max_len:
        raise InvalidParameter(f"Invalid {name} from the pre-action webhook: longer than {max_len} characters")
    return value


def _attributes(value: Any, max_bytes: int) -> str:
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    if len(text.encode("utf-8", "surrogatepass")) > max_bytes:
        raise InvalidParameter(f"Invalid attributes from the pre-action webhook: larger than {max_bytes} bytes",
                               code=50006)
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError:
        raise InvalidParameter("Invalid attributes from the pre-action webhook: not valid JSON",
                               code=50006) from None
    return text


def _message_changes(changes: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "body" in changes:
        body = changes["body"]
        if not isinstance(body, str):
            raise InvalidParameter("Invalid body from the pre-action webhook: must be a string")
        if len(body.encode("utf-8", "surrogatepass")) > MAX_BODY_BYTES:
            raise InvalidParameter(f"Invalid body from the pre-action webhook: larger than {MAX_BODY_BYTES} bytes",
                                   code=errors.BODY_TOO_LONG)
        out["body"] = body
    if "author" in changes:
        out["author"] = _text("author", changes["author"], MAX_NAME)
    if "attributes" in changes:
        out["attributes"] = _attributes(changes["attributes"], MAX_MESSAGE_ATTRIBUTES)
    return out


def _conversation_changes(changes: dict[str, Any]) -> dict[str, Any]:
    if "friendly_name" in changes:
        return {"friendly_name": _text("friendly_name", changes["friendly_name"], MAX_NAME)}
    return {}


def _hooks(call: Any, event_type: str) -> PreWebhooks | None:
    """The pre-action caller, or None when there is nothing to call (known from the cache alone, the
    common case: no coroutine, no context function, no read)."""
    scope: Scope = call.scope
    if not store.webhooks_fire(scope.source, scope.webhook_enabled):
        return None
    hooks: PreWebhooks | None = getattr(call.request.app.state, "pre_webhooks", None)
    if hooks is None or hooks.nothing_to_call(scope, event_type):
        return None
    return hooks


# -- the calls the API handlers make -----------------------------------------------------------------------

def _media(sids: tuple[str, ...]) -> str | None:
    return orjson.dumps([{"sid": s, "filename": None, "content_type": None, "size": 0} for s in sids]).decode() \
        if sids else None


def _author_sid(conn: Connection, conversation_sid: str, author: str | None) -> str | None:
    if not author or author == "system":
        return None
    rows = list(conn.execute(select(participants.c.sid, participants.c.identity).where(
        participants.c.conversation_sid == conversation_sid,
        (participants.c.identity == author) | (participants.c.address == author))).all())
    rows.sort(key=lambda r: r.identity != author)
    return rows[0].sid if rows else None


def _given(fields: Any, names: tuple[str, ...]) -> dict[str, Any]:
    return {name: getattr(fields, name) for name in names if getattr(fields, name) is not None}


async def message_add(call: Any, conversation_key: str, fields: Any) -> Any:
    hooks = _hooks(call, "onMessageAdd")
    if hooks is None:
        return fields

    def context(conn: Connection) -> Any:
        conversation = get_conversation(conn, call.scope, conversation_key)
        author = fields.author or "system"
        return conversation["chat_service_sid"], {"message": {
            "conversation_sid": conversation["sid"], "chat_service_sid": conversation["chat_service_sid"],
            "body": fields.body, "author": author, "attributes": fields.attributes or "{}",
            "participant_sid": _author_sid(conn, conversation["sid"], author), "media": _media(fields.media_sids)}}

    changes = _message_changes(await hooks.call(call.scope, "onMessageAdd", context))
    return dataclasses.replace(fields, **changes) if changes else fields


def _message_context(call: Any, conversation_key: str, sid: str, fields: Any | None) -> Any:
    def context(conn: Connection) -> Any:
        conversation = get_conversation(conn, call.scope, conversation_key)
        row = conn.execute(select(messages).where(messages.c.conversation_sid == conversation["sid"],
                                                  messages.c.sid == sid)).mappings().first()
        if row is None:
            return None
        message = dict(row)
        if fields is not None:
            message.update(_given(fields, ("body", "attributes", "author", "date_created")))
            if fields.author is not None:
                message["participant_sid"] = _author_sid(conn, conversation["sid"], fields.author)
            message["date_updated"] = fields.date_updated or clock.now()
        return conversation["chat_service_sid"], {"message": message}

    return context


async def message_update(call: Any, conversation_key: str, sid: str, fields: Any) -> Any:
    hooks = _hooks(call, "onMessageUpdate")
    if hooks is None:
        return fields
    changes = _message_changes(await hooks.call(call.scope, "onMessageUpdate",
                                                _message_context(call, conversation_key, sid, fields)))
    return dataclasses.replace(fields, **changes) if changes else fields


async def message_remove(call: Any, conversation_key: str, sid: str) -> None:
    hooks = _hooks(call, "onMessageRemove")
    if hooks is not None:
        await hooks.call(call.scope, "onMessageRemove", _message_context(call, conversation_key, sid, None))


async def conversation_add(call: Any, fields: Any) -> Any:
    hooks = _hooks(call, "onConversationAdd")
    if hooks is None:
        return fields

    def context(conn: Connection) -> Any:
        service = service_sid(conn, call.scope)
        return service, {"conversation": {
            "chat_service_sid": service, "friendly_name": fields.friendly_name, "unique_name": fields.unique_name,
            "attributes": fields.attributes or "{}", "messaging_service_sid": fields.messaging_service_sid,
            "state": fields.state or "active", "bindings": "{}"}}

    changes = _conversation_changes(await hooks.call(call.scope, "onConversationAdd", context))
    return dataclasses.replace(fields, **changes) if changes else fields


def _conversation_context(call: Any, key: str, fields: Any | None) -> Any:
    def context(conn: Connection) -> Any:
        conversation = dict(get_conversation(conn, call.scope, key))
        if fields is not None:
            conversation.update(_given(fields, ("friendly_name", "unique_name", "attributes",
                                                "messaging_service_sid", "state", "date_created")))
            conversation["date_updated"] = fields.date_updated or clock.now()
        return conversation["chat_service_sid"], {"conversation": conversation}

    return context


async def conversation_update(call: Any, key: str, fields: Any) -> Any:
    hooks = _hooks(call, "onConversationUpdate")
    if hooks is None:
        return fields
    changes = _conversation_changes(await hooks.call(call.scope, "onConversationUpdate",
                                                     _conversation_context(call, key, fields)))
    return dataclasses.replace(fields, **changes) if changes else fields


async def conversation_remove(call: Any, key: str) -> None:
    hooks = _hooks(call, "onConversationRemove")
    if hooks is not None:
        await hooks.call(call.scope, "onConversationRemove", _conversation_context(call, key, None))


async def participant_add(call: Any, conversation_key: str, fields: Any, binding: Any) -> Any:
    hooks = _hooks(call, "onParticipantAdd")
    if hooks is None:
        return fields

    def context(conn: Connection) -> Any:
        conversation = get_conversation(conn, call.scope, conversation_key)
        return conversation["chat_service_sid"], {"participant": {
            "conversation_sid": conversation["sid"], "chat_service_sid": conversation["chat_service_sid"],
            "identity": fields.identity, "role_sid": fields.role_sid, "attributes": fields.attributes or "{}",
            "binding_type": binding.type, "address": binding.address, "proxy_address": binding.proxy_address,
            "projected_address": binding.projected_address}}

    await hooks.call(call.scope, "onParticipantAdd", context)
    return fields


def _participant_context(call: Any, conversation_key: str, key: str, fields: Any | None) -> Any:
    def context(conn: Connection) -> Any:
        conversation = get_conversation(conn, call.scope, conversation_key)
        clause = participants.c.sid == key if key.startswith("MB") and len(key) == 34 \
            else participants.c.identity == key
        row = conn.execute(select(participants).where(participants.c.conversation_sid == conversation["sid"],
                                                      clause)).mappings().first()
        if row is None:
            return None
        participant = dict(row)
        if fields is not None:
            participant.update(_given(fields, ("identity", "attributes", "role_sid", "last_read_message_index",
                                               "date_created")))
            participant["date_updated"] = fields.date_updated or clock.now()
        return conversation["chat_service_sid"], {"participant": participant}

    return context


async def participant_update(call: Any, conversation_key: str, key: str, fields: Any) -> Any:
    hooks = _hooks(call, "onParticipantUpdate")
    if hooks is not None:
        await hooks.call(call.scope, "onParticipantUpdate", _participant_context(call, conversation_key, key, fields))
    return fields


async def participant_remove(call: Any, conversation_key: str, key: str) -> None:
    hooks = _hooks(call, "onParticipantRemove")
    if hooks is not None:
        await hooks.call(call.scope, "onParticipantRemove", _participant_context(call, conversation_key, key, None))


async def user_update(call: Any, key: str, fields: Any) -> Any:
    hooks = _hooks(call, "onUserUpdate")
    if hooks is None:
        return fields

    def context(conn: Connection) -> Any:
        service = service_sid(conn, call.scope)
        clause = users.c.sid == key if key.startswith("US") and len(key) == 34 else users.c.identity == key
        row = conn.execute(select(users).where(users.c.chat_service_sid == service, clause)).mappings().first()
        if row is None:
            return None
        user = dict(row)
        user.update(_given(fields, ("friendly_name", "attributes", "role_sid")))
        user["date_updated"] = clock.now()
        return service, {"user": user}

    await hooks.call(call.scope, "onUserUpdate", context)
    return fields
