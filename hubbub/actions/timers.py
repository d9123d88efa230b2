"""Conversation state timers: `Timers.Inactive` moves an active conversation to `inactive`, `Timers.Closed`
an active or inactive one to `closed`, when their due times (`date_inactive` / `date_closed`, stored on the
conversation) have passed. Each change emits `onConversationStateUpdated` with `Reason=TIMER`.

Closed is final; it frees the conversation's SMS / WhatsApp number pairs, because the pair rule only counts
active and inactive conversations.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, and_, or_, select, update

from hubbub.actions.common import Scope, emit
from hubbub.store.schema import conversations

TIMER_SOURCE = "TIMER"


def _due(now: int) -> Any:
    c = conversations.c
    return or_(and_(c.state == "active", c.date_inactive <= now),
               and_(c.state.in_(("active", "inactive")), c.date_closed <= now))


def any_due(conn: Connection, now: int) -> bool:
    c = conversations.c
    return conn.execute(select(c.id).where(c.date_inactive <= now, c.state == "active").limit(1)
                        ).first() is not None or conn.execute(
        select(c.id).where(c.date_closed <= now, c.state.in_(("active", "inactive"))).limit(1)).first() is not None


def do_fire_due_timers(conn: Connection, now: int, limit: int = 200) -> int:
    """Apply the transitions of up to `limit` due conversations; returns how many conversations changed."""
    query = select(conversations).where(_due(now)).order_by(conversations.c.id).limit(limit)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)  # several processes may run timers
    rows = conn.execute(query).mappings().all()
    for row in rows:
        current = dict(row)
        scope = Scope(row["account_sid"], row["chat_service_sid"], source=TIMER_SOURCE)
        steps: list[str] = []
        if current["state"] == "active" and current["date_inactive"] is not None \
                and current["date_inactive"] <= now and (current["date_closed"] is None
                                                         or current["date_inactive"] < current["date_closed"]):
            steps.append("inactive")
        if current["date_closed"] is not None and current["date_closed"] <= now:
            steps.append("closed")
        for state in steps:
            changes = {"state": state, "date_inactive": None, "date_updated": now}
            if state == "closed":
                changes["date_closed"] = None
            conn.execute(update(conversations).where(conversations.c.sid == current["sid"]).values(**changes))
            before = current["state"]
            current.update(changes)
            emit(conn, scope, "onConversationStateUpdated", current["sid"],
                 {"conversation": dict(current), "state_from": before, "state_to": state, "reason": "TIMER"})
    return len(rows)
