"""Tables of the SMS channel (hubbub/channels/sms): the durable outbound queue, the SMSC message ids that
delivery receipts refer to, opt-outs, inbound parts awaiting reassembly, the unrouted-inbound log and the
outbox cursor (migration 0003_sms); inbound acknowledgements in doubt and early delivery receipts
(migration 0003b_sms_acks)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Index, Integer, String, Table, Text, UniqueConstraint

from hubbub.store.schema import Id, metadata


def _id() -> Column:
    return Column("id", Id, primary_key=True, autoincrement=True)


# One row per SMS to send: a conversation message to one SMS participant (receipt_sid set) or an
# opt-out / help reply (receipt_sid NULL). `state`: queued → sent → delivered | undelivered | failed,
# or failed / expired straight from queued. Parts already accepted by the SMSC are in sms_submits.
sms_outbound = Table(
    "sms_outbound",
    metadata,
    _id(),
    Column("sid", String(34), nullable=False, unique=True),  # SM…: the receipt's channel_message_sid
    Column("account_sid", String(34), nullable=False),
    Column("connection", String(64), nullable=False),  # name of the SMPP connection that sends it
    Column("sender", String(32), nullable=False),  # our number (the participant's proxy address)
    Column("destination", String(32), nullable=False),
    Column("kind", String(16), nullable=False),  # "message" | "reply"
    Column("chat_service_sid", String(34)),
    Column("conversation_sid", String(34)),
    Column("message_sid", String(34)),
    Column("receipt_sid", String(34)),
    Column("participant_sid", String(34)),
    Column("body", Text, nullable=False),
    Column("smart_encoding", Boolean, nullable=False),
    Column("concat_ref", Integer, nullable=False),
    Column("part_count", Integer, nullable=False),
    Column("state", String(16), nullable=False),
    Column("error_code", Integer, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("date_created", BigInteger, nullable=False),
    Column("date_updated", BigInteger, nullable=False),
    Index("ix_sms_outbound_queue", "connection", "state", "id"),
)

# Each part the SMSC accepted, with the message_id it answered: what DLRs are matched against.
sms_submits = Table(
    "sms_submits",
    metadata,
    _id(),
    Column("outbound_id", BigInteger, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("connection", String(64), nullable=False),
    Column("smsc_message_id", String(65), nullable=False),
    Column("dlr_state", String(16)),  # None until a delivery receipt arrives
    Column("error_code", Integer, nullable=False),
    Column("date_created", BigInteger, nullable=False),
    Index("ix_sms_submits_outbound", "outbound_id", "seq"),
    Index("ix_sms_submits_smsc_id", "connection", "smsc_message_id"),
)

# (our number, their number) pairs blocked by an opt-out keyword.
sms_opt_outs = Table(
    "sms_opt_outs",
    metadata,
    _id(),
    Column("sender", String(32), nullable=False),
    Column("address", String(32), nullable=False),
    Column("keyword", String(32), nullable=False),
    Column("date_created", BigInteger, nullable=False),
    UniqueConstraint("sender", "address", name="uq_sms_opt_outs_pair"),
)

# Parts of a concatenated inbound SMS until the last one arrives.
sms_inbound_parts = Table(
    "sms_inbound_parts",
    metadata,
    _id(),
    Column("connection", String(64), nullable=False),
    Column("source", String(32), nullable=False),
    Column("destination", String(32), nullable=False),
    Column("ref", Integer, nullable=False),
    Column("total", Integer, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("data_coding", Integer, nullable=False),
    Column("payload", Text, nullable=False),  # hex
    Column("date_created", BigInteger, nullable=False),
    UniqueConstraint("connection", "source", "destination", "ref", "seq", name="uq_sms_inbound_part"),
)

# Inbound SMS that no conversation and no address configuration took.
sms_unrouted = Table(
    "sms_unrouted",
    metadata,
    _id(),
    Column("sid", String(34), nullable=False, unique=True),  # SM…
    Column("account_sid", String(34), nullable=False),
    Column("source", String(32), nullable=False),
    Column("destination", String(32), nullable=False),
    Column("body", Text, nullable=False),
    Column("segments", Integer, nullable=False),
    Column("reason", String(64), nullable=False),
    Column("date_created", BigInteger, nullable=False),
    Index("ix_sms_unrouted_account", "account_sid", "id"),
)

# How far the SMS feeder has read the events outbox.
sms_cursor = Table(
    "sms_cursor",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("position", BigInteger, nullable=False),
)

# Inbound deliver_sm whose deliver_sm_resp the SMSC may not have read (migration 0003b_sms_acks). A row is
# written in the transaction that stores the SMS and deleted once an enquire_link round trip shows the SMSC
# read the answer; while it exists, the same PDU (fingerprint) arriving on another bind is the SMSC's
# redelivery, not a new SMS.
sms_inbound_seen = Table(
    "sms_inbound_seen",
    metadata,
    _id(),
    Column("connection", String(64), nullable=False),
    Column("fingerprint", String(64), nullable=False),  # sha256 of the PDU's fields, hex
    Column("session", String(64), nullable=False),  # the bind it was (last) received on
    Column("date_created", BigInteger, nullable=False),
    Index("ix_sms_inbound_seen_fingerprint", "connection", "fingerprint"),
)

# Delivery receipts that arrived before the submit_sm_resp they refer to was recorded: kept (and the
# deliver_sm acknowledged) until the part is recorded or the receipt is older than two minutes.
sms_receipt_backlog = Table(
    "sms_receipt_backlog",
    metadata,
    _id(),
    Column("connection", String(64), nullable=False),
    Column("message_id", String(65), nullable=False),
    Column("stat", String(16), nullable=False),
    Column("err", String(16)),
    Column("date_created", BigInteger, nullable=False),
)
