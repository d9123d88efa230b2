"""Replaying webhook deliveries (Hubbub's delivery log, `/hubbub/v1/WebhookDeliveries` and the CLI).

A replay puts a parked (`failed`) or `delivered` delivery back in the queue with a fresh retry cycle and
the same idempotency token; the dispatcher sends it like any other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, RowMapping, and_, true

from hubbub import errors
from hubbub.actions.common import Scope, not_found
from hubbub.errors import Conflict
from hubbub.store.schema_webhooks import webhook_deliveries as D
from hubbub.webhooks import store


@dataclass(frozen=True)
class DeliveryFilter:
    """Which deliveries (None: any). Times are epoch milliseconds."""

    status: str | None = None
    event_type: str | None = None
    url: str | None = None
    conversation_sid: str | None = None
    level: str | None = None
    start_ms: int | None = None
    end_ms: int | None = None

    def clause(self, account_sid: str | None) -> Any:
        parts: list[Any] = []
        if account_sid is not None:
            parts.append(D.c.account_sid == account_sid)
        for column, value in ((D.c.status, self.status), (D.c.event_type, self.event_type), (D.c.url, self.url),
                              (D.c.conversation_sid, self.conversation_sid), (D.c.level, self.level)):
            if value is not None:
                parts.append(column == value)
        if self.start_ms is not None:
            parts.append(D.c.created_ms >= self.start_ms)
        if self.end_ms is not None:
            parts.append(D.c.created_ms <= self.end_ms)
        return and_(*parts) if parts else true()


def get_delivery(conn: Connection, account_sid: str, sid: str) -> RowMapping:
    row = conn.execute(store.with_event().where(D.c.account_sid == account_sid, D.c.sid == sid)).mappings().first()
    if row is None:
        raise not_found(f"/WebhookDeliveries/{sid[:64]}")
    return row


def do_replay_delivery(conn: Connection, scope: Scope, sid: str) -> RowMapping:
    current = get_delivery(conn, scope.account_sid, sid)
    if current["status"] not in ("failed", "delivered") or current["url"] is None:
        raise Conflict(f"Delivery {sid} is {current['status']}: only failed or delivered deliveries can be "
                       "replayed", code=errors.DELIVERY_NOT_REPLAYABLE)
    store.replay(conn, D.c.id == current["id"])
    return get_delivery(conn, scope.account_sid, sid)


def do_replay_deliveries(conn: Connection, account_sid: str | None, where: DeliveryFilter) -> int:
    """Replay every matching delivery (`account_sid` None: of every account, for the CLI)."""
    return store.replay(conn, where.clause(account_sid))
