"""Media (Twilio's Media Content Service): create, delete, attach to a message, and clean-up.

The bytes are already on disk (hubbub/media/files.py) when `do_create_media` runs; these functions only
write metadata rows, inside the caller's write transaction like every other action.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, RowMapping, bindparam, delete, exists, insert, select, update

from hubbub import errors
from hubbub.actions.common import not_found
from hubbub.domain import clock
from hubbub.errors import Conflict, InvalidParameter
from hubbub.store.prepared import Prepared
from hubbub.store.schema import messages, services
from hubbub.store.schema_media import media, media_trash

CATEGORIES = ("media", "body", "history")

# Set when a write moved media to the trash, so the sweeper (hubbub/media) can run right after the commit.
trash_added = threading.Event()


@dataclass(frozen=True, slots=True)
class NewMedia:
    sid: str
    account_sid: str
    service_sid: str
    content_type: str
    filename: str | None
    category: str
    size: int
    sha256: str
    author: str = "system"


def check_service(conn: Connection, account_sid: str, service_sid: str) -> None:
    """404 unless the Conversation Service exists in the account (checked before reading an upload)."""
    found = conn.execute(select(services.c.sid).where(services.c.sid == service_sid,
                                                      services.c.account_sid == account_sid)).first()
    if found is None:
        raise not_found(f"/Services/{service_sid}")


def do_create_media(conn: Connection, new: NewMedia) -> RowMapping:
    check_service(conn, new.account_sid, new.service_sid)  # the service may have gone during the upload
    now = clock.now()
    row = {
        "sid": new.sid, "account_sid": new.account_sid, "chat_service_sid": new.service_sid,
        "content_type": new.content_type, "filename": new.filename, "category": new.category,
        "size": new.size, "sha256": new.sha256, "author": new.author, "secret": secrets.token_hex(32),
        "conversation_sid": None, "message_sid": None, "date_created": now, "date_updated": now,
    }
    conn.execute(insert(media).values(row))
    return get_media(conn, new.account_sid, new.service_sid, new.sid)


def live_media() -> Any:
    """Not yet swept away: its message (if attached) and its service still exist."""
    return (media.c.message_sid.is_(None) | exists().where(messages.c.sid == media.c.message_sid)) & \
        exists().where(services.c.sid == media.c.chat_service_sid)


def get_media(conn: Connection, account_sid: str, service_sid: str, sid: str) -> RowMapping:
    """The media, 404 if unknown, of another account or service, or gone with its message or service."""
    row = conn.execute(select(media).where(media.c.sid == sid, media.c.account_sid == account_sid,
                                           media.c.chat_service_sid == service_sid, live_media())).mappings().first()
    if row is None:
        raise not_found(f"/Services/{service_sid}/Media/{sid}")
    return row


def do_delete_media(conn: Connection, account_sid: str, service_sid: str, sid: str) -> None:
    """Delete an unattached media. Attached media belong to their message: delete the message instead."""
    row = get_media(conn, account_sid, service_sid, sid)
    if row["message_sid"] is not None:
        raise Conflict(f"Media {sid} is attached to message {row['message_sid']}; delete the message to "
                       "delete its media", code=errors.MEDIA_ATTACHED)
    conn.execute(delete(media).where(media.c.sid == sid))
    conn.execute(insert(media_trash).values(sid=sid, date_created=clock.now()))
    trash_added.set()


# On the message-create path (when MediaSid is given): compiled once, like store/prepared.py's statements.
_MEDIA_TO_ATTACH = Prepared(
    select(media.c.chat_service_sid, media.c.message_sid, media.c.size, media.c.content_type, media.c.filename,
           media.c.category)
    .where(media.c.sid == bindparam("media_sid"), media.c.account_sid == bindparam("account")))
_ATTACH = Prepared(
    update(media).where(media.c.sid == bindparam("media_sid"), media.c.message_sid.is_(None))
    .values(message_sid=bindparam("msg"), conversation_sid=bindparam("conv"), date_updated=bindparam("now")))


def attach_media(conn: Connection, account_sid: str, service_sid: str, conversation_sid: str,
                 message_sid: str, sids: tuple[str, ...]) -> str:
    """Attach uploaded media to a new message (in its write transaction); returns the message's `media`
    JSON. Each media must be of the message's service and not attached to another message."""
    seen: set[str] = set()
    for sid in sids:
        if sid in seen:
            raise Conflict(f"Media {sid} is listed twice", code=errors.MEDIA_ALREADY_ATTACHED)
        seen.add(sid)
    items: list[dict[str, Any]] = []
    for sid in sids:
        row = _MEDIA_TO_ATTACH.fetchone(conn, {"media_sid": sid, "account": account_sid})
        if row is None or row[0] != service_sid:
            raise InvalidParameter(f"Media {sid} was not found in Conversation Service {service_sid}",
                                   code=errors.MEDIA_NOT_FOUND)
        if row[1] is not None:
            raise Conflict(f"Media {sid} is already attached to message {row[1]}",
                           code=errors.MEDIA_ALREADY_ATTACHED)
        items.append({"sid": sid, "size": row[2], "content_type": row[3], "filename": row[4], "category": row[5]})
    now = clock.now()
    for sid in sids:
        # `message_sid IS NULL` again: a concurrent message (PostgreSQL) may have taken it since the SELECT.
        cursor = _ATTACH.execute(conn, {"media_sid": sid, "msg": message_sid, "conv": conversation_sid, "now": now})
        attached = cursor.rowcount
        cursor.close()
        if attached != 1:
            raise Conflict(f"Media {sid} was attached to another message at the same time",
                           code=errors.MEDIA_ALREADY_ATTACHED)
    return orjson.dumps(items).decode()


def delete_message_media(conn: Connection, message_sid: str) -> None:
    """A deleted message takes its media with it (Twilio: media cannot exist without its message)."""
    sids = list(conn.execute(select(media.c.sid).where(media.c.message_sid == message_sid)).scalars())
    if sids:
        _trash(conn, sids)


def _trash(conn: Connection, sids: list[str]) -> None:
    conn.execute(delete(media).where(media.c.sid.in_(sids)))
    now = clock.now()
    conn.execute(insert(media_trash), [{"sid": sid, "date_created": now} for sid in sids])
    trash_added.set()


def find_orphans(conn: Connection, limit: int = 500) -> list[str]:
    """Media whose message, or Conversation Service, no longer exists (deleted with its conversation or
    service). A read, so the scan never holds the writer."""
    return list(conn.execute(select(media.c.sid).where(~live_media()).limit(limit)).scalars())


def do_trash_orphans(conn: Connection, sids: list[str]) -> int:
    """Move those of `sids` that are still orphans to the trash. Returns how many."""
    sids = list(conn.execute(select(media.c.sid).where(media.c.sid.in_(sids), ~live_media())).scalars())
    if sids:
        _trash(conn, sids)
    return len(sids)


def trashed(conn: Connection, limit: int = 500) -> list[tuple[int, str]]:
    return [(row.id, row.sid) for row in conn.execute(
        select(media_trash.c.id, media_trash.c.sid).order_by(media_trash.c.id).limit(limit))]


def do_forget_trash(conn: Connection, ids: list[int]) -> None:
    conn.execute(delete(media_trash).where(media_trash.c.id.in_(ids)))
