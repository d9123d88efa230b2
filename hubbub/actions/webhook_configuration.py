"""Where pre- and post-event webhooks go: the account's `/v1/Configuration/Webhooks` and each service's
`/v1/Services/{IS}/Configuration/Webhooks` (URLs, HTTP method, the events that fire, and for the account
the target)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import orjson
from sqlalchemy import Connection, RowMapping, select, update
from sqlalchemy.dialects import postgresql, sqlite

from hubbub.actions.common import Scope
from hubbub.actions.services import get_service_configuration
from hubbub.errors import InvalidParameter
from hubbub.store.schema import account_webhooks, service_configurations

MAX_URL = 1024
METHODS = ("GET", "POST")
TARGETS = ("webhook", "flex")

SERVICE_FILTERS = frozenset({
    "onMessageAdded", "onMessageUpdated", "onMessageRemoved", "onMessageAdd", "onMessageUpdate",
    "onMessageRemove", "onConversationUpdated", "onConversationRemoved", "onConversationAdd",
    "onConversationAdded", "onConversationRemove", "onConversationUpdate", "onConversationStateUpdated",
    "onParticipantAdded", "onParticipantUpdated", "onParticipantRemoved", "onParticipantAdd",
    "onParticipantRemove", "onParticipantUpdate", "onDeliveryUpdated",
})
ACCOUNT_FILTERS = SERVICE_FILTERS | {"onUserAdded", "onUserUpdate", "onUserUpdated"}

# What an account that never configured its webhooks has.
ACCOUNT_DEFAULTS: dict[str, Any] = {"method": "POST", "filters": "[]", "pre_webhook_url": None,
                                    "post_webhook_url": None, "target": "webhook"}


def check_url(name: str, value: str | None) -> str | None:
    """An absolute http(s) URL of at most 1024 characters; the empty string clears the URL (None)."""
    if not value:
        return None
    if len(value) > MAX_URL:
        raise InvalidParameter(f"Invalid {name}: longer than {MAX_URL} characters")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        parts = None
    if parts is None or parts.scheme.lower() not in ("http", "https") or not parts.hostname \
            or any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in value):
        raise InvalidParameter(f"Invalid {name}: '{value[:64]}' is not an absolute http or https URL")
    return value


def check_method(name: str, value: str | None) -> str | None:
    """`GET` or `POST`, in any letter case."""
    if value is None:
        return None
    if value.upper() not in METHODS:
        raise InvalidParameter(f"Invalid {name}: '{value[:64]}' is not one of GET, POST")
    return value.upper()


def check_filters(name: str, values: Sequence[str] | None, allowed: frozenset[str]) -> list[str] | None:
    """Event names from `allowed`, each once; a single empty value clears the list."""
    if values is None:
        return None
    if list(values) == [""]:
        return []
    result: list[str] = []
    for value in values:
        if value not in allowed:
            raise InvalidParameter(f"Invalid {name}: '{value[:64]}' is not one of the webhook events "
                                   "that can be filtered here")
        if value not in result:
            result.append(value)
    return result


# -- service level -------------------------------------------------------------------------------------

def do_update_service_webhooks(conn: Connection, scope: Scope, changes: dict[str, Any]) -> RowMapping:
    """`changes`: pre_webhook_url, post_webhook_url, webhook_method, webhook_filters (a list)."""
    current = get_service_configuration(conn, scope)
    values = dict(changes)
    if "webhook_filters" in values:
        values["webhook_filters"] = orjson.dumps(values["webhook_filters"]).decode()
    if values:
        conn.execute(update(service_configurations)
                     .where(service_configurations.c.chat_service_sid == current["chat_service_sid"])
                     .values(**values))
    return get_service_configuration(conn, scope)


# -- account level -------------------------------------------------------------------------------------

def get_account_webhooks(conn: Connection, account_sid: str) -> dict[str, Any]:
    """The account's webhook configuration; the defaults until it is first updated."""
    row = conn.execute(select(account_webhooks).where(account_webhooks.c.account_sid == account_sid)
                       ).mappings().first()
    return dict(row) if row is not None else {"account_sid": account_sid, **ACCOUNT_DEFAULTS}


def do_update_account_webhooks(conn: Connection, scope: Scope, changes: dict[str, Any]) -> dict[str, Any]:
    """`changes`: method, filters (a list), pre_webhook_url, post_webhook_url, target."""
    values = dict(changes)
    if "filters" in values:
        values["filters"] = orjson.dumps(values["filters"]).decode()
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    # The row is created on the first update; concurrent first updates must not collide on the key.
    conn.execute(dialect.insert(account_webhooks)
                 .values(account_sid=scope.account_sid, **ACCOUNT_DEFAULTS)
                 .on_conflict_do_nothing(index_elements=[account_webhooks.c.account_sid]))
    if values:
        conn.execute(update(account_webhooks).where(account_webhooks.c.account_sid == scope.account_sid)
                     .values(**values))
    return get_account_webhooks(conn, scope.account_sid)
