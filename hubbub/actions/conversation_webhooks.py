"""Conversation-scoped webhooks (`/Conversations/{ConversationSid}/Webhooks`): create, update, delete.

Targets: `webhook` (a URL, method and event filters), `trigger` (a URL called when a message matches one of
up to five keywords) and `studio` (a Studio Flow). At most five per conversation. Delivery is not here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, RowMapping, delete, func, insert, select, update

from hubbub import errors
from hubbub.actions.common import Scope, get_conversation, not_found
from hubbub.domain import clock
from hubbub.domain.sids import is_sid, new_sid
from hubbub.errors import InvalidParameter
from hubbub.store.schema import conversation_webhooks, conversations
from hubbub.webhooks.store import replay_messages

TARGETS = ("webhook", "trigger", "studio")
METHODS = ("get", "post")
MAX_WEBHOOKS = 5
MAX_TRIGGERS = 5
MAX_TRIGGER_LEN = 248


@dataclass(frozen=True)
class WebhookFields:
    """The writable `Configuration.*` fields (and `Target`); None means 'not given'."""

    target: str | None = None
    url: str | None = None
    method: str | None = None
    filters: list[str] | None = None
    triggers: list[str] | None = None
    flow_sid: str | None = None
    replay_after: int | None = None


def check_triggers(triggers: list[str] | None) -> None:
    if triggers is None:
        return
    if len(triggers) > MAX_TRIGGERS:
        raise InvalidParameter(f"Invalid Configuration.Triggers: at most {MAX_TRIGGERS} keywords",
                               code=errors.TOO_MANY_TRIGGERS)
    for keyword in triggers:
        if not keyword or len(keyword) > MAX_TRIGGER_LEN:
            raise InvalidParameter("Invalid Configuration.Triggers: each keyword must be 1 to "
                                   f"{MAX_TRIGGER_LEN} characters", code=errors.INVALID_TRIGGER)


def _check_complete(target: str, url: str | None, triggers: list[str] | None, flow_sid: str | None) -> None:
    """What each target needs, checked on the fields as they will be stored."""
    if target in ("webhook", "trigger") and url is None:
        raise InvalidParameter(f"Missing required parameter Configuration.Url for Target {target}")
    if target == "trigger" and not triggers:
        raise InvalidParameter("Target trigger needs at least one Configuration.Triggers keyword",
                               code=errors.TRIGGERS_MISSING)
    if target == "studio" and flow_sid is None:
        raise InvalidParameter("Missing required parameter Configuration.FlowSid for Target studio")


def check_create_webhook(fields: WebhookFields) -> WebhookFields:
    if fields.target is None:
        raise InvalidParameter("Missing required parameter Target in the post body")
    check_triggers(fields.triggers)
    _check_complete(fields.target, fields.url, fields.triggers, fields.flow_sid)
    return fields


def check_update_webhook(fields: WebhookFields) -> WebhookFields:
    check_triggers(fields.triggers)
    return fields


def get_webhook(conn: Connection, conversation_sid: str, key: str) -> RowMapping:
    row = None
    if is_sid(key, "WH"):
        row = conn.execute(select(conversation_webhooks).where(
            conversation_webhooks.c.conversation_sid == conversation_sid,
            conversation_webhooks.c.sid == key)).mappings().first()
    if row is None:
        raise not_found(f"/Conversations/{conversation_sid}/Webhooks/{key}")
    return row


def do_create_webhook(conn: Connection, scope: Scope, conversation_key: str,
                      fields: WebhookFields) -> RowMapping:
    conversation = get_conversation(conn, scope, conversation_key)
    conv_sid = conversation["sid"]
    # lock the conversation (PostgreSQL) so concurrent creates cannot both pass the limit
    conn.execute(select(conversations.c.id).where(conversations.c.sid == conv_sid).with_for_update())
    count = conn.execute(select(func.count()).select_from(conversation_webhooks).where(
        conversation_webhooks.c.conversation_sid == conv_sid)).scalar_one()
    if count >= MAX_WEBHOOKS:
        raise InvalidParameter(f"A conversation can have at most {MAX_WEBHOOKS} scoped webhooks",
                               code=errors.TOO_MANY_SCOPED_WEBHOOKS)
    now = clock.now()
    sid = new_sid("WH")
    conn.execute(insert(conversation_webhooks).values(
        sid=sid, account_sid=scope.account_sid, chat_service_sid=conversation["chat_service_sid"],
        conversation_sid=conv_sid, target=fields.target, url=fields.url,
        method=fields.method or ("post" if fields.target != "studio" else None),
        filters=orjson.dumps(fields.filters or []).decode(),
        triggers=orjson.dumps(fields.triggers or []).decode(),
        flow_sid=fields.flow_sid, replay_after=fields.replay_after, date_created=now, date_updated=now))
    if fields.replay_after is not None:  # queue the existing messages from that index for this webhook
        replay_messages(conn, sid)
    return conn.execute(select(conversation_webhooks).where(conversation_webhooks.c.sid == sid)
                        ).mappings().one()


def do_update_webhook(conn: Connection, scope: Scope, conversation_key: str, key: str,
                      fields: WebhookFields) -> RowMapping:
    conversation = get_conversation(conn, scope, conversation_key)
    current = get_webhook(conn, conversation["sid"], key)
    changes: dict[str, Any] = {}
    for name in ("url", "method", "flow_sid"):
        value = getattr(fields, name)
        if value is not None:
            changes[name] = value
    if fields.filters is not None:
        changes["filters"] = orjson.dumps(fields.filters).decode()
    if fields.triggers is not None:
        changes["triggers"] = orjson.dumps(fields.triggers).decode()
    triggers = fields.triggers if fields.triggers is not None else orjson.loads(current["triggers"])
    _check_complete(current["target"], changes.get("url", current["url"]), triggers,
                    changes.get("flow_sid", current["flow_sid"]))
    changes["date_updated"] = clock.now()
    conn.execute(update(conversation_webhooks).where(conversation_webhooks.c.sid == current["sid"])
                 .values(**changes))
    return conn.execute(select(conversation_webhooks).where(
        conversation_webhooks.c.sid == current["sid"])).mappings().one()


def do_delete_webhook(conn: Connection, scope: Scope, conversation_key: str, key: str) -> None:
    conversation = get_conversation(conn, scope, conversation_key)
    current = get_webhook(conn, conversation["sid"], key)
    conn.execute(delete(conversation_webhooks).where(conversation_webhooks.c.sid == current["sid"]))
