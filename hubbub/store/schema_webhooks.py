"""Tables of webhook delivery (issue: webhooks and conversation lifecycle).

`webhook_deliveries`: one row per (post-action event, target URL), written in the same transaction as the
change that caused the event, then sent by the dispatcher (hubbub/webhooks/dispatcher.py) and retried
until it is `delivered` or parked as `failed`. `webhook_attempts`: every HTTP attempt, post- and
pre-action, for the delivery log and its statistics. Times here are epoch milliseconds (`*_ms`):
retry schedules and latencies need better than the one-second resolution of the Twilio resources.

Also two indexes on `conversations` for the state-timer worker (due conversations are found by
`date_inactive` / `date_closed`).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, ForeignKey, Index, Integer, String, Table, Text

from hubbub.store.schema import Id, conversations, metadata

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("sid", String(34), nullable=False, unique=True),
    Column("account_sid", String(34), nullable=False),
    Column("chat_service_sid", String(34)),
    Column("conversation_sid", String(34)),
    Column("event_id", BigInteger),  # the outbox position (`events.id`); None for a ReplayAfter replay
    Column("event_type", String(64), nullable=False),
    Column("level", String(16), nullable=False),  # account | service | conversation
    Column("webhook_sid", String(34)),  # the conversation-scoped webhook (WH…)
    Column("target", String(16), nullable=False),  # webhook | trigger | studio
    Column("url", String(1024)),  # None: a studio webhook with no flow URL configured (unsupported)
    Column("method", String(8), nullable=False),  # GET | POST
    # JSON list of [name, value] (RetryCount is added per attempt), or None: rendered from the outbox event
    # (`event_id`) with `messaging_service_sid` whenever the delivery is sent or shown (migration 0005)
    Column("params", Text),
    Column("messaging_service_sid", String(34)),
    Column("idempotency_token", String(64), nullable=False),
    Column("status", String(16), nullable=False),  # pending | sending | delivered | failed | unsupported
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_ms", BigInteger, nullable=False),
    Column("lease_until_ms", BigInteger),
    Column("claimed_by", String(32)),
    Column("last_status_code", Integer),
    Column("last_error", String(512)),
    Column("created_ms", BigInteger, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
    Column("delivered_ms", BigInteger),
    Index("ix_webhook_deliveries_due", "status", "next_attempt_ms"),
    Index("ix_webhook_deliveries_account", "account_sid", "id"),
    Index("ix_webhook_deliveries_lane", "conversation_sid", "id"),  # PostgreSQL only (migration 0005)
)

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("delivery_id", BigInteger, ForeignKey("webhook_deliveries.id", ondelete="CASCADE")),
    Column("account_sid", String(34), nullable=False),
    Column("chat_service_sid", String(34)),
    Column("conversation_sid", String(34)),
    Column("kind", String(8), nullable=False),  # post | pre
    Column("event_type", String(64), nullable=False),
    Column("level", String(16), nullable=False),
    Column("url", String(1024), nullable=False),
    Column("method", String(8), nullable=False),
    Column("attempt", Integer, nullable=False),  # the RetryCount sent
    Column("status_code", Integer),
    Column("ok", Boolean, nullable=False),
    Column("error", String(512)),
    Column("latency_us", BigInteger, nullable=False),
    Column("created_ms", BigInteger, nullable=False),  # when the request started
    Index("ix_webhook_attempts_account", "account_sid", "created_ms"),
    Index("ix_webhook_attempts_delivery", "delivery_id", "id"),
)

# The state-timer worker looks up due conversations by these.
Index("ix_conversations_date_inactive", conversations.c.date_inactive)
Index("ix_conversations_date_closed", conversations.c.date_closed)
