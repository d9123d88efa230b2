"""User Conversations: a user's view of the conversations its identity is a participant of. Updating one
moves that participant's read horizon and notification level; deleting one makes the user leave."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, RowMapping, Select, func, select, update

from hubbub.actions.common import Scope, emit, get_conversation, not_found
from hubbub.actions.participants import do_delete_participant
from hubbub.actions.users import get_user
from hubbub.domain import clock
from hubbub.store.schema import conversations, messages, participants

NOTIFICATION_LEVELS = ("default", "muted")
# the conversation's columns a user conversation (and a participant conversation) shows
CONVERSATION_COLUMNS = ("account_sid", "chat_service_sid", "friendly_name", "unique_name", "attributes",
                        "state", "date_inactive", "date_closed", "created_by", "date_created", "date_updated")


@dataclass(frozen=True)
class UserConversationFields:
    notification_level: str | None = None
    last_read_message_index: int | None = None
    last_read_timestamp: int | None = None


def user_conversations_select(user: RowMapping) -> Select[Any]:
    """One row per conversation the user's identity participates in (within the user's service), with
    the conversation's fields, the participant's and its unread count (0 when the horizon is unset; the
    representation shows null then)."""
    unread = (select(func.count()).select_from(messages)
              .where(messages.c.conversation_sid == participants.c.conversation_sid,
                     messages.c.index > participants.c.last_read_message_index)
              .scalar_subquery())
    conversation = [conversations.c[name] for name in CONVERSATION_COLUMNS]
    return (select(participants.c.id, participants.c.sid.label("participant_sid"),
                   participants.c.last_read_message_index, participants.c.notification_level,
                   conversations.c.sid.label("conversation_sid"), *conversation,
                   unread.label("unread_messages_count"))
            .select_from(participants.join(conversations,
                                           conversations.c.sid == participants.c.conversation_sid))
            .where(participants.c.chat_service_sid == user["chat_service_sid"],
                   participants.c.identity == user["identity"]))


def get_user_conversation(conn: Connection, scope: Scope, user_key: str, conversation_key: str
                          ) -> tuple[RowMapping, RowMapping]:
    """(the user, its user-conversation row); 404 unless the user is a participant of the conversation."""
    user = get_user(conn, scope, user_key)
    conversation = get_conversation(conn, scope, conversation_key)
    row = conn.execute(user_conversations_select(user).where(
        participants.c.conversation_sid == conversation["sid"])).mappings().first()
    if row is None:
        raise not_found(f"/Users/{user_key}/Conversations/{conversation_key}")
    return user, row


def do_update_user_conversation(conn: Connection, scope: Scope, user_key: str, conversation_key: str,
                                fields: UserConversationFields) -> tuple[RowMapping, RowMapping]:
    user, current = get_user_conversation(conn, scope, user_key, conversation_key)
    changes: dict[str, Any] = {}
    if fields.notification_level is not None:
        changes["notification_level"] = fields.notification_level
    if fields.last_read_message_index is not None:
        changes["last_read_message_index"] = fields.last_read_message_index
    if fields.last_read_timestamp is not None:
        changes["last_read_timestamp"] = clock.iso(fields.last_read_timestamp)
    if changes:
        changes["date_updated"] = clock.now()
        conn.execute(update(participants).where(participants.c.sid == current["participant_sid"])
                     .values(**changes))
        participant = conn.execute(select(participants).where(
            participants.c.sid == current["participant_sid"])).mappings().one()
        emit(conn, scope, "onParticipantUpdated", current["conversation_sid"],
             {"participant": dict(participant)})
    row = conn.execute(user_conversations_select(user).where(
        participants.c.sid == current["participant_sid"])).mappings().one()
    return user, row


def do_delete_user_conversation(conn: Connection, scope: Scope, user_key: str, conversation_key: str) -> None:
    _, current = get_user_conversation(conn, scope, user_key, conversation_key)
    do_delete_participant(conn, scope, current["conversation_sid"], current["participant_sid"])
