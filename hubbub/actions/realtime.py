"""What a chat client (the WebSocket gateway, source "SDK") may do, with roles and permissions enforced.

Every client action is an `authorize_*` step (reads only: raises 403 unless the user's service role or
its participant's conversation role grants the permission) and a `do_*` step that re-checks the same
rule inside the write transaction and then runs the existing actions (messages, participants,
conversations, user conversations, users) — so a denied action changes nothing and a permitted one
writes exactly what the REST API would, events included. Permission names: `hubbub/domain/roles.py`.
REST with account credentials never comes through here and is not subject to roles.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, RowMapping, delete, func, insert, select, update

from hubbub import errors
from hubbub.actions.common import Scope, emit, get_conversation, not_found, service_sid
from hubbub.actions.conversations import (
    ConversationFields,
    do_create_conversation,
    do_delete_conversation,
    do_update_conversation,
)
from hubbub.actions.messages import (
    MessageFields,
    check_create_message,
    do_create_message,
    do_delete_message,
    do_update_message,
    get_message,
)
from hubbub.actions.participants import (
    ParticipantFields,
    check_create_participant,
    do_create_participant,
    do_delete_participant,
    get_participant,
)
from hubbub.actions.user_conversations import (
    UserConversationFields,
    do_update_user_conversation,
    user_conversations_select,
)
from hubbub.actions.users import UserFields, do_update_user, ensure_user, find_user
from hubbub.domain import clock
from hubbub.domain.roles import SERVICE_PERMISSIONS
from hubbub.domain.sids import new_sid
from hubbub.errors import InvalidParameter, TwilioError
from hubbub.store.schema import (
    api_keys,
    bindings,
    conversations,
    credentials,
    events,
    messages,
    participants,
    roles,
    service_configurations,
    users,
)

MAX_PAGE = 100


def denied(permission: str) -> TwilioError:
    return TwilioError(f"User unauthorized for command: the role lacks '{permission}'",
                       code=errors.PERMISSION_DENIED, status=403)


def not_participant(conversation_sid: str) -> TwilioError:
    return TwilioError(f"You are not a participant of conversation {conversation_sid}",
                       code=errors.NOT_A_PARTICIPANT, status=403)


# -- sessions ------------------------------------------------------------------------------------------

def api_key(conn: Connection, sid: str) -> tuple[str, str] | None:
    """(account SID, secret) of an API key, for access-token verification."""
    row = conn.execute(select(api_keys.c.account_sid, api_keys.c.secret).where(api_keys.c.sid == sid)).first()
    return None if row is None else (row[0], row[1])


def do_start_session(conn: Connection, scope: Scope) -> tuple[RowMapping, list[str], int]:
    """A client connected: its token's service must be the account's; its user is created on first
    connection. Returns the user, the conversations its identity is a participant of, and the stream
    position that membership is as of (read in the same transaction)."""
    identity = scope.client_identity or ""
    try:
        service = service_sid(conn, scope)
    except TwilioError:
        raise TwilioError("Invalid Access Token grants: the chat service is not the account's",
                          code=errors.TOKEN_INVALID_GRANTS, status=401) from None
    ensure_user(conn, scope, service, identity)
    user = find_user(conn, service, identity)
    assert user is not None
    return user, member_conversations(conn, service, identity), last_event_id(conn)


def member_conversations(conn: Connection, service: str, identity: str) -> list[str]:
    return list(conn.execute(select(participants.c.conversation_sid).where(
        participants.c.chat_service_sid == service, participants.c.identity == identity)).scalars())


# -- permissions ---------------------------------------------------------------------------------------

def _role_permissions(conn: Connection, role_sid: str | None) -> frozenset[str]:
    if role_sid is None:
        return frozenset()
    value = conn.execute(select(roles.c.permissions).where(roles.c.sid == role_sid)).scalar_one_or_none()
    return frozenset(orjson.loads(value)) if value else frozenset()


@dataclass(frozen=True)
class Actor:
    """The connected user in one conversation: its permissions and its participant (None: not one)."""

    identity: str
    service: str
    service_permissions: frozenset[str]
    participant: RowMapping | None
    conversation_permissions: frozenset[str]

    def may(self, permission: str) -> bool:
        return permission in self.conversation_permissions or (
            permission in SERVICE_PERMISSIONS and permission in self.service_permissions)

    def require(self, permission: str) -> None:
        if not self.may(permission):
            raise denied(permission)

    def member(self, conversation_sid: str) -> RowMapping:
        if self.participant is None:
            raise not_participant(conversation_sid)
        return self.participant


def actor(conn: Connection, scope: Scope, conversation_sid: str | None = None) -> Actor:
    identity = scope.client_identity or ""
    service = service_sid(conn, scope)
    user = find_user(conn, service, identity)
    service_permissions = _role_permissions(conn, user["role_sid"] if user is not None else None)
    participant = None
    if conversation_sid is not None:
        participant = conn.execute(select(participants).where(
            participants.c.conversation_sid == conversation_sid,
            participants.c.identity == identity)).mappings().first()
    conversation_permissions = _role_permissions(conn, participant["role_sid"]) if participant else frozenset()
    return Actor(identity, service, service_permissions, participant, conversation_permissions)


# -- messages ------------------------------------------------------------------------------------------

def authorize_send_message(conn: Connection, scope: Scope, key: str, fields: MessageFields) -> str:
    conversation = get_conversation(conn, scope, key)
    who = actor(conn, scope, conversation["sid"])
    who.member(conversation["sid"])
    who.require("sendMessage")
    if fields.media_sids:
        who.require("sendMediaMessage")
    return str(conversation["sid"])


def do_send_message(conn: Connection, scope: Scope, key: str, fields: MessageFields) -> dict[str, Any]:
    conversation_sid = authorize_send_message(conn, scope, key, fields)
    return do_create_message(conn, scope, conversation_sid, check_create_message(fields))


def _edit_permissions(who: Actor, message: RowMapping, fields: MessageFields) -> None:
    own = message["author"] == who.identity
    if fields.body is not None:
        who.require("editOwnMessage" if own and who.may("editOwnMessage") else "editAnyMessage")
    if fields.attributes is not None:
        who.require("editOwnMessageAttributes" if own and who.may("editOwnMessageAttributes")
                    else "editAnyMessageAttributes")


def authorize_update_message(conn: Connection, scope: Scope, key: str, sid: str, fields: MessageFields) -> str:
    conversation = get_conversation(conn, scope, key)
    message = get_message(conn, conversation["sid"], sid)
    _edit_permissions(actor(conn, scope, conversation["sid"]), message, fields)
    return str(conversation["sid"])


def do_sdk_update_message(conn: Connection, scope: Scope, key: str, sid: str, fields: MessageFields) -> RowMapping:
    conversation_sid = authorize_update_message(conn, scope, key, sid, fields)
    return do_update_message(conn, scope, conversation_sid, sid, fields)


def authorize_delete_message(conn: Connection, scope: Scope, key: str, sid: str) -> str:
    conversation = get_conversation(conn, scope, key)
    message = get_message(conn, conversation["sid"], sid)
    who = actor(conn, scope, conversation["sid"])
    own = message["author"] == who.identity
    who.require("deleteOwnMessage" if own and who.may("deleteOwnMessage") else "deleteAnyMessage")
    return str(conversation["sid"])


def do_sdk_delete_message(conn: Connection, scope: Scope, key: str, sid: str) -> None:
    conversation_sid = authorize_delete_message(conn, scope, key, sid)
    do_delete_message(conn, scope, conversation_sid, sid)


# -- conversations -------------------------------------------------------------------------------------

def authorize_create_conversation(conn: Connection, scope: Scope) -> None:
    actor(conn, scope).require("createConversation")


def do_sdk_create_conversation(conn: Connection, scope: Scope, fields: ConversationFields) -> RowMapping:
    """Create a conversation; its creator joins it with the service's creator role."""
    authorize_create_conversation(conn, scope)
    created = do_create_conversation(conn, scope, fields)
    conn.execute(update(conversations).where(conversations.c.sid == created["sid"])
                 .values(created_by=scope.client_identity))
    creator_role = conn.execute(select(service_configurations.c.default_conversation_creator_role_sid).where(
        service_configurations.c.chat_service_sid == created["chat_service_sid"])).scalar_one_or_none()
    fields_p = ParticipantFields(identity=scope.client_identity, role_sid=creator_role)
    do_create_participant(conn, scope, created["sid"], fields_p, check_create_participant(fields_p))
    return conn.execute(select(conversations).where(conversations.c.sid == created["sid"])).mappings().one()


def authorize_update_conversation(conn: Connection, scope: Scope, key: str, fields: ConversationFields) -> str:
    conversation = get_conversation(conn, scope, key)
    who = actor(conn, scope, conversation["sid"])
    if fields.friendly_name is not None:
        who.require("editConversationName")
    if fields.attributes is not None:
        who.require("editConversationAttributes")
    return str(conversation["sid"])


def do_sdk_update_conversation(conn: Connection, scope: Scope, key: str, fields: ConversationFields) -> RowMapping:
    conversation_sid = authorize_update_conversation(conn, scope, key, fields)
    return do_update_conversation(conn, scope, conversation_sid, fields)


def authorize_delete_conversation(conn: Connection, scope: Scope, key: str) -> str:
    conversation = get_conversation(conn, scope, key)
    actor(conn, scope, conversation["sid"]).require("deleteConversation")
    return str(conversation["sid"])


def do_sdk_delete_conversation(conn: Connection, scope: Scope, key: str) -> None:
    do_delete_conversation(conn, scope, authorize_delete_conversation(conn, scope, key))


# -- participants --------------------------------------------------------------------------------------

def authorize_join(conn: Connection, scope: Scope, key: str) -> str:
    conversation = get_conversation(conn, scope, key)
    actor(conn, scope, conversation["sid"]).require("joinConversation")
    return str(conversation["sid"])


def do_join(conn: Connection, scope: Scope, key: str) -> RowMapping:
    conversation_sid = authorize_join(conn, scope, key)
    fields = ParticipantFields(identity=scope.client_identity)
    return do_create_participant(conn, scope, conversation_sid, fields, check_create_participant(fields))


def authorize_add_participant(conn: Connection, scope: Scope, key: str, fields: ParticipantFields) -> str:
    conversation = get_conversation(conn, scope, key)
    if fields.identity == scope.client_identity:
        return authorize_join(conn, scope, key)
    actor(conn, scope, conversation["sid"]).require("addParticipant")
    return str(conversation["sid"])


def do_add_participant(conn: Connection, scope: Scope, key: str, fields: ParticipantFields) -> RowMapping:
    conversation_sid = authorize_add_participant(conn, scope, key, fields)
    return do_create_participant(conn, scope, conversation_sid, fields, check_create_participant(fields))


def authorize_remove_participant(conn: Connection, scope: Scope, key: str, participant_key: str) -> str:
    """Leaving (removing oneself) needs leaveConversation; removing another needs removeParticipant."""
    conversation = get_conversation(conn, scope, key)
    target = get_participant(conn, conversation["sid"], participant_key)
    who = actor(conn, scope, conversation["sid"])
    if target["identity"] == who.identity:
        who.require("leaveConversation")
    else:
        who.require("removeParticipant")
    return str(target["sid"])


def do_remove_participant(conn: Connection, scope: Scope, key: str, participant_key: str) -> None:
    participant_sid = authorize_remove_participant(conn, scope, key, participant_key)
    conversation = get_conversation(conn, scope, key)
    do_delete_participant(conn, scope, conversation["sid"], participant_sid)


# -- read horizon --------------------------------------------------------------------------------------

def authorize_read_horizon(conn: Connection, scope: Scope, key: str) -> RowMapping:
    conversation = get_conversation(conn, scope, key)
    return actor(conn, scope, conversation["sid"]).member(conversation["sid"])


def do_set_read_horizon(conn: Connection, scope: Scope, key: str, index: int | None, *, advance: bool
                        ) -> RowMapping:
    """Set (or, with `advance`, only move forward) the user's last read message index; `index` None
    means 'everything read' (the conversation's last message)."""
    participant = authorize_read_horizon(conn, scope, key)
    conversation_sid = participant["conversation_sid"]
    if index is None:
        index = conn.execute(select(func.max(messages.c.index)).where(
            messages.c.conversation_sid == conversation_sid)).scalar_one_or_none()
        if index is None:
            return participant
    current = participant["last_read_message_index"]
    if advance and current is not None and current >= index:
        return participant
    fields = UserConversationFields(last_read_message_index=index, last_read_timestamp=clock.now())
    do_update_user_conversation(conn, scope, scope.client_identity or "", conversation_sid, fields)
    return conn.execute(select(participants).where(participants.c.sid == participant["sid"])).mappings().one()


# -- users ---------------------------------------------------------------------------------------------

def authorize_update_user(conn: Connection, scope: Scope, identity: str) -> None:
    who = actor(conn, scope)
    who.require("editOwnUserInfo" if identity == who.identity else "editAnyUserInfo")


def do_sdk_update_user(conn: Connection, scope: Scope, identity: str, fields: UserFields) -> RowMapping:
    authorize_update_user(conn, scope, identity)
    return do_update_user(conn, scope, identity, fields)


# -- reads ---------------------------------------------------------------------------------------------

def my_conversations(conn: Connection, scope: Scope, offset: int, size: int) -> tuple[list[dict[str, Any]], bool]:
    """The user's conversations, most recent activity first, each with its last message and unread
    count (None while the read horizon was never set). Returns (page, whether more follow)."""
    service = service_sid(conn, scope)
    user = find_user(conn, service, scope.client_identity or "")
    if user is None:
        return [], False
    rows = [dict(r) for r in conn.execute(user_conversations_select(user)).mappings()]
    sids = [r["conversation_sid"] for r in rows]
    last: dict[str, dict[str, Any]] = {}
    if sids:
        latest = (select(messages.c.conversation_sid, func.max(messages.c.index).label("index"))
                  .where(messages.c.conversation_sid.in_(sids)).group_by(messages.c.conversation_sid).subquery())
        for m in conn.execute(select(messages).join(latest, (messages.c.conversation_sid == latest.c.conversation_sid)
                                                    & (messages.c.index == latest.c.index))).mappings():
            last[m["conversation_sid"]] = dict(m)
    extra = {r["sid"]: dict(r) for r in conn.execute(
        select(conversations.c.sid, conversations.c.timer_inactive, conversations.c.timer_closed,
               conversations.c.bindings, conversations.c.messaging_service_sid)
        .where(conversations.c.sid.in_(sids))).mappings()} if sids else {}
    for r in rows:
        r["sid"] = r["conversation_sid"]
        r.update({k: v for k, v in extra.get(r["sid"], {}).items() if k != "sid"})
        r["last_message"] = last.get(r["sid"])
        if r["last_read_message_index"] is None:
            r["unread_messages_count"] = None
        activity = r["last_message"]["date_created"] if r["last_message"] else 0
        r["last_activity"] = max(activity, r["date_updated"] or 0, r["date_created"] or 0)
    rows.sort(key=lambda r: (r["last_activity"], r["id"]), reverse=True)
    return rows[offset:offset + size], len(rows) > offset + size


def conversation_messages(conn: Connection, scope: Scope, key: str, before: int | None, size: int
                          ) -> tuple[list[RowMapping], bool]:
    """A page of a conversation's messages (participants only), oldest first, ending before `before`."""
    conversation = get_conversation(conn, scope, key)
    actor(conn, scope, conversation["sid"]).member(conversation["sid"])
    query = select(messages).where(messages.c.conversation_sid == conversation["sid"])
    if before is not None:
        query = query.where(messages.c.index < before)
    rows = list(conn.execute(query.order_by(messages.c.index.desc()).limit(size + 1)).mappings())
    return list(reversed(rows[:size])), len(rows) > size


def conversation_participants(conn: Connection, scope: Scope, key: str) -> list[RowMapping]:
    conversation = get_conversation(conn, scope, key)
    actor(conn, scope, conversation["sid"]).member(conversation["sid"])
    return list(conn.execute(select(participants).where(participants.c.conversation_sid == conversation["sid"])
                             .order_by(participants.c.id)).mappings())


# -- the outbox, for fan-out and resume ----------------------------------------------------------------

def last_event_id(conn: Connection) -> int:
    return int(conn.execute(select(func.coalesce(func.max(events.c.id), 0))).scalar_one())


def events_after(conn: Connection, position: int, limit: int, until: int | None = None) -> list[Any]:
    """Committed events after `position` (up to `until`), in stream order."""
    query = select(events.c.id, events.c.account_sid, events.c.conversation_sid, events.c.type,
                   events.c.payload).where(events.c.id > position)
    if until is not None:
        query = query.where(events.c.id <= until)
    return list(conn.execute(query.order_by(events.c.id).limit(limit)).all())


# -- reachability and push registrations ---------------------------------------------------------------

PUSH_TYPES = ("apn", "fcm", "gcm")
PUSH_MESSAGE_TYPES = ["new_message", "added_to_conversation", "removed_from_conversation"]


def _reachability_enabled(conn: Connection, service: str) -> bool:
    return bool(conn.execute(select(service_configurations.c.reachability_enabled).where(
        service_configurations.c.chat_service_sid == service)).scalar_one_or_none())


def _refresh_reachability(conn: Connection, scope: Scope, service: str, online: bool | None) -> None:
    """When the service has reachability on, record the user's `is_online` (when given) and
    `is_notifiable` (has a push registration), emitting onUserUpdated — to the user and the participants
    of its conversations — if either changed."""
    if not _reachability_enabled(conn, service):
        return
    identity = scope.client_identity or ""
    user = find_user(conn, service, identity)
    if user is None:
        return
    notifiable = conn.execute(select(bindings.c.id).where(
        bindings.c.chat_service_sid == service, bindings.c.identity == identity,
        bindings.c.binding_type.in_(PUSH_TYPES)).limit(1)).first() is not None
    changes: dict[str, Any] = {"is_notifiable": notifiable}
    if online is not None:
        changes["is_online"] = online
    if all(user[k] == v for k, v in changes.items()):
        return
    conn.execute(update(users).where(users.c.sid == user["sid"]).values(**changes, date_updated=clock.now()))
    row = conn.execute(select(users).where(users.c.sid == user["sid"])).mappings().one()
    emit(conn, scope, "onUserUpdated", None,
         {"user": dict(row), "conversations": member_conversations(conn, service, identity)})


def do_set_online(conn: Connection, scope: Scope, online: bool) -> None:
    """The user's first connection opened (True) or its last one closed (False)."""
    _refresh_reachability(conn, scope, service_sid(conn, scope), online)


def do_register_push(conn: Connection, scope: Scope, binding_type: str, address: str, credential_sid: str
                     ) -> RowMapping:
    """Register a device token (APN / FCM / GCM) for the user: a Binding `BS…` of the service. The same
    device registering again (for this or another identity) replaces its earlier registration."""
    service = service_sid(conn, scope)
    credential = conn.execute(select(credentials.c.type).where(
        credentials.c.sid == credential_sid, credentials.c.account_sid == scope.account_sid)).first()
    if credential is None:
        raise not_found(f"/Credentials/{credential_sid}")
    if credential.type != binding_type:
        raise InvalidParameter(f"Credential {credential_sid} is a {credential.type} credential, not {binding_type}")
    endpoint = f"{binding_type}:{address}"
    conn.execute(delete(bindings).where(bindings.c.chat_service_sid == service, bindings.c.endpoint == endpoint))
    now = clock.now()
    sid = new_sid("BS")
    conn.execute(insert(bindings).values(
        sid=sid, account_sid=scope.account_sid, chat_service_sid=service, credential_sid=credential_sid,
        endpoint=endpoint, identity=scope.client_identity, binding_type=binding_type, address=address,
        message_types=orjson.dumps(PUSH_MESSAGE_TYPES).decode(), date_created=now, date_updated=now))
    _refresh_reachability(conn, scope, service, None)
    return conn.execute(select(bindings).where(bindings.c.sid == sid)).mappings().one()


def do_unregister_push(conn: Connection, scope: Scope, binding_type: str, address: str) -> None:
    service = service_sid(conn, scope)
    endpoint = f"{binding_type}:{address}"
    found = conn.execute(select(bindings.c.sid).where(
        bindings.c.chat_service_sid == service, bindings.c.endpoint == endpoint,
        bindings.c.identity == scope.client_identity)).first()
    if found is None:
        raise not_found(f"/Services/{service}/Bindings/{endpoint[:64]}")
    conn.execute(delete(bindings).where(bindings.c.sid == found.sid))
    _refresh_reachability(conn, scope, service, None)
