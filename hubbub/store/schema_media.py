"""Tables of the media store (Twilio's Media Content Service, docs/compatibility.md "Media").

`media`: one row per uploaded file. The bytes live on disk (hubbub/media/files.py), written and fsynced
before this row commits; `sha256` and `size` describe them. `message_sid` / `conversation_sid` are set
when a message attaches the media (in the message's write transaction), and a media can be attached once.

`media_trash`: files whose row is gone (the media, its message, conversation or service was deleted).
The row is moved here in the deleting transaction; the media sweeper unlinks the file after the commit
and then drops the trash row, so a rolled-back delete never loses bytes and a crash never leaks them.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, String, Table

from hubbub.store.schema import Id, metadata

media = Table(
    "media",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("sid", String(34), nullable=False, unique=True),
    Column("account_sid", String(34), nullable=False),
    Column("chat_service_sid", String(34), nullable=False),
    Column("content_type", String(255), nullable=False),
    Column("filename", String(256)),
    Column("category", String(16), nullable=False),  # media | body | history
    Column("size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("author", String(256), nullable=False),
    Column("secret", String(64), nullable=False),  # HMAC key of this media's temporary content URLs
    Column("conversation_sid", String(34)),
    Column("message_sid", String(34)),
    Column("date_created", BigInteger, nullable=False),
    Column("date_updated", BigInteger, nullable=False),
    Index("ix_media_message", "message_sid"),
    Index("ix_media_service", "chat_service_sid"),
)

media_trash = Table(
    "media_trash",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("sid", String(34), nullable=False),
    Column("date_created", BigInteger, nullable=False),
)
