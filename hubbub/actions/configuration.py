"""The account's `/v1/Configuration`: default service, messaging service and timers."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, RowMapping, select, update

from hubbub import errors
from hubbub.actions.common import Scope, not_found
from hubbub.domain.durations import parse_duration
from hubbub.errors import InvalidParameter
from hubbub.store.schema import configurations, services

TIMER_RULES = {  # column: (minimum seconds, invalid code, too-short code, minimum in words, parameter)
    "default_inactive_timer": (60, errors.TIMER_INACTIVE_INVALID, errors.TIMER_INACTIVE_TOO_SHORT, "1 minute",
                               "DefaultInactiveTimer"),
    "default_closed_timer": (600, errors.TIMER_CLOSED_INVALID, errors.TIMER_CLOSED_TOO_SHORT, "10 minutes",
                             "DefaultClosedTimer"),
}


def check_default_timer(name: str, value: str | None) -> str | None:
    """`PT0S` switches a default timer off; anything else must be a duration above the minimum."""
    if value is None:
        return None
    minimum, invalid_code, short_code, text, param = TIMER_RULES[name]
    seconds = parse_duration(value)
    if seconds is None:
        raise InvalidParameter(f"Invalid {param}: '{value[:64]}' is not an ISO 8601 duration", code=invalid_code)
    if 0 < seconds < minimum:
        raise InvalidParameter(f"{param} must be at least {text}", code=short_code)
    return value


def get_configuration(conn: Connection, account_sid: str) -> RowMapping:
    row = conn.execute(select(configurations).where(configurations.c.account_sid == account_sid)).mappings().first()
    if row is None:
        raise not_found("/Configuration")
    return row


def do_update_configuration(conn: Connection, scope: Scope, changes: dict[str, Any]) -> RowMapping:
    service = changes.get("default_chat_service_sid")
    if service is not None and conn.execute(select(services.c.sid).where(
            services.c.sid == service, services.c.account_sid == scope.account_sid)).first() is None:
        raise InvalidParameter(f"Invalid DefaultChatServiceSid: service {service} not found")
    # PT0S is stored as "no default timer".
    for name in TIMER_RULES:
        if changes.get(name) is not None and parse_duration(changes[name]) == 0:
            changes[name] = None
    values = {k: v for k, v in changes.items() if v is not None or k in TIMER_RULES}
    if values:
        conn.execute(update(configurations).where(configurations.c.account_sid == scope.account_sid)
                     .values(**values))
    return get_configuration(conn, scope.account_sid)
