"""Messages and their delivery receipts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, RowMapping, bindparam, delete, or_, select, update

from hubbub import errors
from hubbub.actions.common import Scope, default_service_of, emit, get_conversation, not_found
from hubbub.actions.conversations import reactivate_if_inactive
from hubbub.actions.media import attach_media, delete_message_media
from hubbub.domain import clock
from hubbub.domain.sids import is_sid, new_sid
from hubbub.errors import InvalidParameter
from hubbub.store.prepared import Prepared, insert_all
from hubbub.store.schema import conversations, messages, participants, receipts


@dataclass(frozen=True)
class MessageFields:
    author: str | None = None
    body: str | None = None
    attributes: str | None = None
    media_sids: tuple[str, ...] = ()
    content_sid: str | None = None
    content_variables: str | None = None
    subject: str | None = None
    date_created: int | None = None
    date_updated: int | None = None


def check_create_message(fields: MessageFields) -> MessageFields:
    if not fields.body and not fields.media_sids and not fields.content_sid:
        raise InvalidParameter("A message needs a Body, a MediaSid or a ContentSid", code=50003)
    return fields


_BUMP_COLUMNS = (conversations.c.sid, conversations.c.chat_service_sid, conversations.c.state,
                 conversations.c.next_message_index, conversations.c.timer_inactive,
                 conversations.c.timer_closed, conversations.c.date_inactive, conversations.c.date_closed)

_BUMP_NAMES = tuple(c.name for c in _BUMP_COLUMNS)


def _bump_statement(by_sid: bool, default_service: bool) -> Prepared:
    """Allocate the next message index of a conversation addressed by SID or unique name."""
    key = conversations.c.sid if by_sid else conversations.c.unique_name
    service = default_service_of(bindparam("account_sid")) if default_service else bindparam("service")
    return Prepared(
        update(conversations)
        .where(key == bindparam("key"), conversations.c.account_sid == bindparam("account_sid"),
               conversations.c.chat_service_sid == service, conversations.c.state != "closed")
        .values(next_message_index=conversations.c.next_message_index + 1)
        .returning(*_BUMP_COLUMNS))


_BUMP = {(by_sid, default): _bump_statement(by_sid, default) for by_sid in (True, False) for default in (True, False)}
# One read for a new message: the non-chat participants (at most 50; they get receipts) and the author's
# chat participant, if the author names one.
_AUTHOR_AND_RECIPIENTS = Prepared(
    select(participants.c.sid, participants.c.identity, participants.c.address)
    .where(participants.c.conversation_sid == bindparam("conversation_sid"),
           or_(participants.c.address.is_not(None), participants.c.identity == bindparam("author"))))
_INSERT_MESSAGE = insert_all(messages)
_INSERT_RECEIPT = insert_all(receipts)


def _author_and_recipients(conn: Connection, conversation_sid: str, author: str) -> tuple[str | None, list[str]]:
    """The participant a message author names (by chat identity first, else by address: SMS authors;
    none for `system`) and the non-chat participants."""
    rows = _AUTHOR_AND_RECIPIENTS.fetchall(conn, {"conversation_sid": conversation_sid, "author": author})
    recipients = [sid for sid, _identity, address in rows if address is not None]
    if author == "system":
        return None, recipients
    by_identity = [sid for sid, identity, _address in rows if identity == author]
    by_address = [sid for sid, _identity, address in rows if address == author]
    author_sid = (by_identity or by_address or [None])[0]
    return author_sid, recipients


def _allocate_index(conn: Connection, scope: Scope, key: str) -> dict[str, Any] | None:
    by_sid = is_sid(key, "CH")
    statement = _BUMP[(by_sid, scope.service_sid is None)]
    params = {"key": key, "account_sid": scope.account_sid, "service": scope.service_sid}
    row = statement.fetchone(conn, params)
    if row is None and by_sid:  # a unique name may look like a SID
        row = _BUMP[(False, scope.service_sid is None)].fetchone(conn, params)
    return None if row is None else dict(zip(_BUMP_NAMES, row, strict=True))


def do_create_message(conn: Connection, scope: Scope, conversation_key: str, fields: MessageFields) -> dict[str, Any]:
    # Allocate the index first: the UPDATE takes the conversation's row lock, so concurrent writers to
    # one conversation queue here and indices follow commit order.
    bumped = _allocate_index(conn, scope, conversation_key)
    if bumped is None:
        conversation = get_conversation(conn, scope, conversation_key)  # raises 404 if absent
        raise InvalidParameter(
            f"Conversation {conversation['sid']} is closed so it can't be used for chatting anymore",
            code=errors.CONVERSATION_CLOSED)
    conv_sid = bumped["sid"]
    service = bumped["chat_service_sid"]
    index = bumped["next_message_index"] - 1
    author = fields.author or "system"
    participant_sid, recipients = _author_and_recipients(conn, conv_sid, author)
    now = clock.now()
    created = fields.date_created or now
    sid = new_sid("IM")
    media = attach_media(conn, scope.account_sid, service, conv_sid, sid, fields.media_sids) if fields.media_sids \
        else None
    row: dict[str, Any] = dict(
        sid=sid, account_sid=scope.account_sid, chat_service_sid=service,
        conversation_sid=conv_sid, index=index, author=author, body=fields.body,
        attributes=fields.attributes or "{}", participant_sid=participant_sid,
        media=media, content_sid=fields.content_sid,
        subject=fields.subject, date_created=created, date_updated=fields.date_updated,
    )
    _INSERT_MESSAGE.run(conn, row)
    receipt_rows = [
        {"sid": new_sid("DY"), "account_sid": scope.account_sid, "chat_service_sid": service,
         "conversation_sid": conv_sid, "message_sid": sid, "participant_sid": p, "channel_message_sid": None,
         "status": None, "error_code": 0, "date_created": now, "date_updated": None}
        for p in recipients if p != participant_sid
    ]
    if receipt_rows:
        _INSERT_RECEIPT.executemany(conn, receipt_rows)
    if bumped["state"] == "inactive":
        reactivate_if_inactive(conn, scope, bumped)
    row["delivery"] = delivery_summary([None] * len(receipt_rows)) if receipt_rows else None
    emit(conn, scope, "onMessageAdded", conv_sid, {"message": row})
    return row


def delivery_summary(statuses: list[str | None]) -> dict[str, Any]:
    """Twilio's `delivery` object: per status, whether all, some or none of the receipts reached it."""
    total = len(statuses)
    summary: dict[str, Any] = {"total": total}
    for status in ("sent", "delivered", "read", "failed", "undelivered"):
        n = sum(1 for s in statuses if s == status)
        summary[status] = "all" if n == total and total else ("some" if n else "none")
    return summary


def get_message(conn: Connection, conversation_sid: str, sid: str) -> RowMapping:
    row = conn.execute(select(messages).where(messages.c.conversation_sid == conversation_sid,
                                              messages.c.sid == sid)).mappings().first()
    if row is None:
        raise not_found(f"/Conversations/{conversation_sid}/Messages/{sid}")
    return row


def do_update_message(conn: Connection, scope: Scope, conversation_key: str, sid: str,
                      fields: MessageFields) -> RowMapping:
    conversation = get_conversation(conn, scope, conversation_key)
    current = get_message(conn, conversation["sid"], sid)
    changes: dict[str, Any] = {}
    for name in ("body", "attributes", "subject", "date_created"):
        value = getattr(fields, name)
        if value is not None:
            changes[name] = value
    if fields.author is not None:
        changes["author"] = fields.author
        changes["participant_sid"] = _author_and_recipients(conn, conversation["sid"], fields.author)[0]
    changes["date_updated"] = fields.date_updated or clock.now()
    conn.execute(update(messages).where(messages.c.sid == current["sid"]).values(**changes))
    row = conn.execute(select(messages).where(messages.c.sid == current["sid"])).mappings().one()
    emit(conn, scope, "onMessageUpdated", conversation["sid"], {"message": dict(row)})
    return row


def do_delete_message(conn: Connection, scope: Scope, conversation_key: str, sid: str) -> None:
    conversation = get_conversation(conn, scope, conversation_key)
    current = get_message(conn, conversation["sid"], sid)
    if current["media"]:
        delete_message_media(conn, current["sid"])
    conn.execute(delete(receipts).where(receipts.c.message_sid == current["sid"]))
    conn.execute(delete(messages).where(messages.c.sid == current["sid"]))
    emit(conn, scope, "onMessageRemoved", conversation["sid"], {"message": dict(current)})
