"""Tables (SQLAlchemy Core). Timestamps are epoch seconds; JSON documents are stored as text.

Every table that is listed through the API has an integer `id` that orders it and serves as the
page cursor; `sid` is the public key.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
Id = BigInteger().with_variant(Integer(), "sqlite")


def _id() -> Column:
    return Column("id", Id, primary_key=True, autoincrement=True)


accounts = Table(
    "accounts",
    metadata,
    Column("sid", String(34), primary_key=True),
    Column("auth_token", String(64), nullable=False),
    Column("friendly_name", String(256)),
    Column("date_created", BigInteger, nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("sid", String(34), primary_key=True),
    Column("account_sid", String(34), ForeignKey("accounts.sid"), nullable=False),
    Column("secret", String(64), nullable=False),
    Column("friendly_name", String(64)),
    Column("date_created", BigInteger, nullable=False),
)

services = Table(
    "services",
    metadata,
    _id(),
    Column("sid", String(34), nullable=False, unique=True),
    Column("account_sid", String(34), ForeignKey("accounts.sid"), nullable=False),
    Column("friendly_name", String(256)),
    Column("date_created", BigInteger, nullable=False),
    Column("date_updated", BigInteger, nullable=False),
)

configurations = Table(
    "configurations",
    metadata,
    Column("account_sid", String(34), ForeignKey("accounts.sid"), primary_key=True),
    Column("default_chat_service_sid", String(34), nullable=False),
    Column("default_messaging_service_sid", String(34)),
    Column("default_inactive_timer", String(64)),
    Column("default_closed_timer", String(64)),
)

roles = Table(
    "roles",
    metadata,
    _id(),
    Column("sid", String(34), nullable=False, unique=True),
    Column("account_sid", String(34), nullable=False),
    Column("chat_service_sid", String(34), ForeignKey("services.sid", ondelete="CASCADE"), nullable=False),
    Column("friendly_name", String(64), nullable=False),
    Column("type", String(16), nullable=False),
    Column("permissions", Text, nullable=False),
    Column("date_created", BigInteger, nullable=False),
    Column("date_updated", BigInteger, nullable=False),
)

conversations = Table(
    "conversations",
    metadata,
    _id(),
    Column("sid", String(34), nullable=False, unique=True),
    Column("account_sid", String(34), nullable=False),
    Column("chat_service_sid", String(34), ForeignKey("services.sid", ondelete="CASCADE"), nullable=False),
    Column("messaging_service_sid", String(34)),
    Column("friendly_name", String(256)),
    Column("unique_name", String(256)),
    Column("attributes", Text, nullable=False),
    Column("state", String(16), nullable=False),
    Column("timer_inactive", String(64)),
    Column("timer_closed", String(64)),
    Column("date_inactive", BigInteger),
    Column("date_closed", BigInteger),
    Column("bindings", Text, nullable=False),
    Column("next_message_index", BigInteger, nullable=False),
    Column("created_by", String(256)),
    Column("participants_count", Integer, nullable=False),
    Column("non_chat_count", Integer, nullable=False),
    Column("date_created", BigInteger, nullable=False),
    Column("date_updated", BigInteger, nullable=False),
    UniqueConstraint("chat_service_sid", "unique_name", name="uq_conversations_unique_name"),
    Index("ix_conversations_service_state", "chat_service_sid", "state", "id"),
)

participants = Table(
    "participants",
    metadata,
    _id(),
    Column("sid", String(34), nullable=False, unique=True),
    Column("account_sid", String(34), nullable=False),
    Column("chat_service_sid", String(34), nullable=False),
    Column(
        "conversation_sid",
        String(34),
        ForeignKey("conversations.sid", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("identity", String(256)),
    Column("binding_type", String(16)),
    Column("address", String(256)),
    Column("proxy_address", String(256)),
    Column("projected_address", String(256)),
    Column("attributes", Text, nullable=False),
    Column("role_sid", String(34)),
    Column("last_read_message_index", BigInteger),
    Column("last_read_timestamp", String(64)),
    Column("notification_level", String(16)),
    Column("date_created", BigInteger, nullable=False),
    Column("date_updated", BigInteger, nullable=False),
    UniqueConstraint("conversation_sid", "identity", name="uq_participants_identity"),
    Index("ix_participants_conversation", "conversation_sid", "id"),
    Index("ix_participants_pair", "account_sid", "address", "proxy_address"),
)

messages = Table(
    "messages",
    metadata,
    _id(),
    Column("sid", String(34), nullable=False, unique=True),
    Column("account_sid", String(34), nullable=False),
    Column("chat_service_sid", String(34), nullable=False),
    Column(
        "conversation_sid",
        String(34),
        ForeignKey("conversations.sid", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("index", BigInteger, nullable=False),
    Column("author", String(256), nullable=False),
    Column("body", Text),
    Column("attributes", Text, nullable=False),
    Column("participant_sid", String(34)),
    Column("media", Text),
    Column("content_sid", String(34)),
    Column("subject", String(256)),
    Column("date_created", BigInteger, nullable=False),
    Column("date_updated", BigInteger),
    UniqueConstraint("conversation_sid", "index", name="uq_messages_index"),
)

receipts = Table(
    "receipts",
    metadata,
    _id(),
    Column("sid", String(34), nullable=False, unique=True),
    Column("account_sid", String(34), nullable=False),
    Column("chat_service_sid", String(34), nullable=False),
    Column("conversation_sid", String(34), nullable=False),
    Column("message_sid", String(34), ForeignKey("messages.sid", ondelete="CASCADE"), nullable=False),
    Column("participant_sid", String(34), nullable=False),
    Column("channel_message_sid", String(34)),
    Column("status", String(16)),
    Column("error_code", Integer, nullable=False),
    Column("date_created", BigInteger, nullable=False),
    Column("date_updated", BigInteger),
    Index("ix_receipts_message", "message_sid", "id"),
)

service_configurations = Table(
    "service_configurations",
    metadata,
    Column("chat_service_sid", String(34), ForeignKey("services.sid", ondelete="CASCADE"), primary_key=True),
    Column("account_sid", String(34), nullable=False),
    Column("default_chat_service_role_sid", String(34)),
    Column("default_conversation_role_sid", String(34)),
    Column("default_conversation_creator_role_sid", String(34)),
    Column("reachability_enabled", Boolean, nullable=False, default=False),
    Column("notifications", Text, nullable=False, default="{}"),
    Column("pre_webhook_url", String(1024)),
    Column("post_webhook_url", String(1024)),
    Column("webhook_filters", Text, nullable=False, default="[]"),
    Column("webhook_method", String(8), nullable=False, default="POST"),
)

account_webhooks = Table(
    "account_webhooks",
    metadata,
    Column("account_sid", String(34), ForeignKey("accounts.sid"), primary_key=True),
    Column("method", String(8), nullable=False, default="POST"),
    Column("filters", Text, nullable=False, default="[]"),
    Column("pre_webhook_url", String(1024)),
    Column("post_webhook_url", String(1024)),
    Column("target", String(16), nullable=False, default="webhook"),
)

users = Table(
    "users",
    metadata,
    _id(),
    Column("sid", String(34), nullable=False, unique=True),
    Column("account_sid", String(34), nullable=False),
    Column("chat_service_sid", String(34), ForeignKey("services.sid", ondelete="CASCADE"), nullable=False),
    Column("identity", String(256), nullable=False),
    Column("friendly_name", String(256)),
    Column("attributes", Text, nullable=False),
    Column("role_sid", String(34)),
    Column("is_online", Boolean),
    Column("is_notifiable", Boolean),
    Column("date_created", BigInteger, nullable=False),
    Column("date_updated", BigInteger, nullable=False),
    UniqueConstraint("chat_service_sid", "identity", name="uq_users_identity"),
)

address_configurations = Table(
    "address_configurations",
    metadata,
    _id(),
    Column("sid", String(34), nullable=False, unique=True),
    Column("account_sid", String(34), nullable=False),
    Column("type", String(16), nullable=False),
    Column("address", String(256), nullable=False),
    Column("friendly_name", String(256)),
    Column("address_country", String(8)),
    Column("auto_creation", Text, nullable=False),
    Column("date_created", BigInteger, nullable=False),
    Column("date_updated", BigInteger, nullable=False),
    UniqueConstraint("account_sid", "address", name="uq_address_configurations_address"),
)

conversation_webhooks = Table(
    "conversation_webhooks",
    metadata,
    _id(),
    Column("sid", String(34), nullable=False, unique=True),
    Column("account_sid", String(34), nullable=False),
    Column("chat_service_sid", String(34), nullable=False),
    Column("conversation_sid", String(34), ForeignKey("conversations.sid", ondelete="CASCADE"),
           nullable=False),
    Column("target", String(16), nullable=False),
    Column("url", String(1024)),
    Column("method", String(8)),
    Column("filters", Text, nullable=False, default="[]"),
    Column("triggers", Text, nullable=False, default="[]"),
    Column("flow_sid", String(34)),
    Column("replay_after", BigInteger),
    Column("date_created", BigInteger, nullable=False),
    Column("date_updated", BigInteger, nullable=False),
    Index("ix_conversation_webhooks_conversation", "conversation_sid", "id"),
)

credentials = Table(
    "credentials",
    metadata,
    _id(),
    Column("sid", String(34), nullable=False, unique=True),
    Column("account_sid", String(34), nullable=False),
    Column("friendly_name", String(64)),
    Column("type", String(8), nullable=False),
    Column("sandbox", String(8)),
    # Secrets are write-only through the API: stored for the push sender, never rendered.
    Column("certificate", Text),
    Column("private_key", Text),
    Column("api_key", Text),
    Column("secret", Text),
    Column("date_created", BigInteger, nullable=False),
    Column("date_updated", BigInteger, nullable=False),
)

bindings = Table(
    "bindings",
    metadata,
    _id(),
    Column("sid", String(34), nullable=False, unique=True),
    Column("account_sid", String(34), nullable=False),
    Column("chat_service_sid", String(34), ForeignKey("services.sid", ondelete="CASCADE"), nullable=False),
    Column("credential_sid", String(34)),
    Column("endpoint", String(512), nullable=False),
    Column("identity", String(256), nullable=False),
    Column("binding_type", String(16), nullable=False),
    Column("address", Text, nullable=False),
    Column("message_types", Text, nullable=False, default="[]"),
    Column("date_created", BigInteger, nullable=False),
    Column("date_updated", BigInteger, nullable=False),
    UniqueConstraint("chat_service_sid", "endpoint", name="uq_bindings_endpoint"),
)

# The outbox: every change writes its events here in the same transaction; `id` is the stream position.
events = Table(
    "events",
    metadata,
    _id(),
    Column("account_sid", String(34), nullable=False),
    Column("conversation_sid", String(34)),
    Column("type", String(64), nullable=False),
    Column("payload", Text, nullable=False),
    Column("date_created", BigInteger, nullable=False),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("account_sid", String(34), primary_key=True),
    Column("key", String(256), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("status", Integer, nullable=False),
    Column("body", Text, nullable=False),
    Column("date_created", BigInteger, nullable=False),
    Index("ix_idempotency_keys_age", "date_created"),
)

from hubbub.store import schema_media as _schema_media  # noqa: E402,F401
from hubbub.store import schema_sms as _schema_sms  # noqa: E402,F401
from hubbub.store import schema_webhooks as _schema_webhooks  # noqa: E402,F401
