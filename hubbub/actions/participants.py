"""Participants: chat identities, SMS / WhatsApp number pairs and Group MMS projected addresses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, RowMapping, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from hubbub import errors
from hubbub.actions.common import Scope, emit, get_conversation, not_found
from hubbub.actions.conversations import reactivate_if_inactive
from hubbub.actions.users import ensure_user
from hubbub.domain import clock
from hubbub.domain.addresses import parse_address
from hubbub.domain.sids import is_sid, new_sid
from hubbub.errors import Conflict, InvalidParameter
from hubbub.store.schema import conversations, participants, roles, service_configurations

MAX_PARTICIPANTS = 1000
MAX_NON_CHAT = 50
UNSET = "__unset__"  # a binding field given as the literal 'null' removes it


@dataclass(frozen=True)
class ParticipantFields:
    identity: str | None = None
    address: str | None = None
    proxy_address: str | None = None
    projected_address: str | None = None
    attributes: str | None = None
    role_sid: str | None = None
    last_read_message_index: int | None = None
    last_read_timestamp: str | None = None
    date_created: int | None = None
    date_updated: int | None = None


@dataclass(frozen=True)
class Binding:
    type: str | None  # None for chat participants
    address: str | None
    proxy_address: str | None
    projected_address: str | None


def check_create_participant(fields: ParticipantFields) -> Binding:
    """Which kind of participant the fields describe, with normalised addresses."""
    if fields.identity is None and fields.address is None:
        raise InvalidParameter("Either Identity or MessagingBinding.Address must be specified",
                               code=errors.BINDING_INVALID)
    if fields.identity is not None and fields.address is not None:
        raise InvalidParameter("Identity and MessagingBinding.Address cannot both be specified",
                               code=errors.BINDING_INVALID)
    projected = parse_address(fields.projected_address, "MessagingBinding.ProjectedAddress").value \
        if fields.projected_address else None
    if fields.identity is not None:
        if fields.proxy_address is not None:
            raise InvalidParameter("MessagingBinding.ProxyAddress needs MessagingBinding.Address",
                                   code=errors.BINDING_INVALID)
        return Binding("sms" if projected else None, None, None, projected)
    address = parse_address(fields.address or "", "MessagingBinding.Address")
    if fields.proxy_address is None:
        if address.channel != "sms":
            raise InvalidParameter("MessagingBinding.ProxyAddress is required for WhatsApp participants",
                                   code=errors.BINDING_INVALID)
        return Binding("sms", address.value, None, projected)  # Group MMS consumer
    proxy = parse_address(fields.proxy_address, "MessagingBinding.ProxyAddress")
    if proxy.channel != address.channel:
        raise InvalidParameter("MessagingBinding.Address and ProxyAddress must be of the same channel",
                               code=errors.BINDING_INVALID)
    return Binding(address.channel, address.value, proxy.value, None)


def _check_role(conn: Connection, service: str, role_sid: str) -> None:
    found = conn.execute(select(roles.c.type).where(roles.c.sid == role_sid,
                                                    roles.c.chat_service_sid == service)).first()
    if found is None or found.type != "conversation":
        raise InvalidParameter(f"Invalid RoleSid: {role_sid} is not a conversation role of this service")


def _default_role(conn: Connection, service: str) -> str | None:
    return conn.execute(select(service_configurations.c.default_conversation_role_sid).where(
        service_configurations.c.chat_service_sid == service)).scalar_one_or_none()


def _check_pair_free(conn: Connection, scope: Scope, conversation_sid: str, binding: Binding,
                     exclude: str | None = None) -> None:
    """The number-pair rule: one active or inactive conversation per (address, proxy address)."""
    if binding.address is None:
        return
    query = (select(participants.c.conversation_sid, participants.c.sid)
             .join(conversations, conversations.c.sid == participants.c.conversation_sid)
             .where(participants.c.account_sid == scope.account_sid,
                    participants.c.address == binding.address,
                    conversations.c.state.in_(("active", "inactive", "initializing"))))
    if binding.proxy_address is None:
        query = query.where(participants.c.proxy_address.is_(None),
                            participants.c.conversation_sid == conversation_sid)
    else:
        query = query.where(participants.c.proxy_address == binding.proxy_address)
    for row in conn.execute(query):
        if row.sid == exclude:
            continue
        if row.conversation_sid == conversation_sid:
            raise Conflict("A participant with this address is already in the conversation",
                           code=errors.DUPLICATE_IN_CONVERSATION)
        raise Conflict(f"Participant and proxy address pair ({binding.address}, {binding.proxy_address}) "
                       f"is already in use by conversation {row.conversation_sid}", code=errors.PAIR_IN_USE)


def _check_projected_free(conn: Connection, conversation_sid: str, projected: str | None,
                          exclude: str | None = None) -> None:
    if projected is None:
        return
    query = select(participants.c.sid).where(participants.c.conversation_sid == conversation_sid,
                                              participants.c.projected_address == projected)
    if any(sid != exclude for (sid,) in conn.execute(query)):
        raise Conflict("A participant with this projected address is already in the conversation",
                       code=errors.DUPLICATE_IN_CONVERSATION)


def do_create_participant(conn: Connection, scope: Scope, conversation_key: str,
                          fields: ParticipantFields, binding: Binding) -> RowMapping:
    conversation = get_conversation(conn, scope, conversation_key)
    conv_sid = conversation["sid"]
    if conversation["state"] == "closed":
        raise InvalidParameter("Conversation state is 'closed' so it can't be used for chatting anymore",
                               code=errors.CONVERSATION_CLOSED)
    non_chat = binding.address is not None
    if conversation["participants_count"] >= MAX_PARTICIPANTS:
        raise InvalidParameter(f"A conversation can have at most {MAX_PARTICIPANTS} participants",
                               code=errors.TOO_MANY_PARTICIPANTS)
    if non_chat and conversation["non_chat_count"] >= MAX_NON_CHAT:
        raise InvalidParameter(f"A conversation can have at most {MAX_NON_CHAT} non-chat participants",
                               code=errors.TOO_MANY_NON_CHAT_PARTICIPANTS)
    if fields.identity is not None and conn.execute(select(participants.c.id).where(
            participants.c.conversation_sid == conv_sid, participants.c.identity == fields.identity)).first():
        raise Conflict(f"Participant with identity '{fields.identity}' already exists",
                       code=errors.PARTICIPANT_EXISTS)
    _check_pair_free(conn, scope, conv_sid, binding)
    _check_projected_free(conn, conv_sid, binding.projected_address)
    service = conversation["chat_service_sid"]
    if fields.role_sid is not None:
        _check_role(conn, service, fields.role_sid)
    now = clock.now()
    created = fields.date_created or now
    sid = new_sid("MB")
    try:
        conn.execute(insert(participants).values(
            sid=sid, account_sid=scope.account_sid, chat_service_sid=service, conversation_sid=conv_sid,
            identity=fields.identity, binding_type=binding.type, address=binding.address,
            proxy_address=binding.proxy_address, projected_address=binding.projected_address,
            attributes=fields.attributes or "{}", role_sid=fields.role_sid or _default_role(conn, service),
            last_read_message_index=None, last_read_timestamp=None, date_created=created,
            date_updated=fields.date_updated or created))
    except IntegrityError:
        raise Conflict(f"Participant with identity '{fields.identity}' already exists",
                       code=errors.PARTICIPANT_EXISTS) from None
    ensure_user(conn, scope, service, fields.identity)  # a chat identity's first join creates its user
    conn.execute(update(conversations).where(conversations.c.sid == conv_sid).values(
        participants_count=conversations.c.participants_count + 1,
        non_chat_count=conversations.c.non_chat_count + (1 if non_chat else 0)))
    reactivate_if_inactive(conn, scope, conversation)
    row = conn.execute(select(participants).where(participants.c.sid == sid)).mappings().one()
    emit(conn, scope, "onParticipantAdded", conv_sid, {"participant": dict(row)})
    return row


def get_participant(conn: Connection, conversation_sid: str, key: str) -> RowMapping:
    if is_sid(key, "MB"):
        clause = participants.c.sid == key
    else:
        clause = participants.c.identity == key
    row = conn.execute(select(participants).where(
        participants.c.conversation_sid == conversation_sid, clause)).mappings().first()
    if row is None:
        raise not_found(f"/Conversations/{conversation_sid}/Participants/{key}")
    return row


def do_update_participant(conn: Connection, scope: Scope, conversation_key: str, key: str,
                          fields: ParticipantFields) -> RowMapping:
    conversation = get_conversation(conn, scope, conversation_key)
    current = get_participant(conn, conversation["sid"], key)
    changes: dict[str, Any] = {}
    if fields.identity is not None and fields.identity != current["identity"]:
        if current["address"] is not None:
            raise InvalidParameter("Identity cannot be set on an SMS or WhatsApp participant",
                                   code=errors.BINDING_INVALID)
        if conn.execute(select(participants.c.id).where(
                participants.c.conversation_sid == conversation["sid"],
                participants.c.identity == fields.identity)).first():
            raise Conflict(f"Participant with identity '{fields.identity}' already exists",
                           code=errors.PARTICIPANT_EXISTS)
        changes["identity"] = fields.identity
    if fields.proxy_address is not None:
        if current["address"] is None:
            raise InvalidParameter("MessagingBinding.ProxyAddress needs a participant with an address",
                                   code=errors.BINDING_INVALID)
        proxy = None if fields.proxy_address == UNSET else parse_address(
            fields.proxy_address, "MessagingBinding.ProxyAddress").value
        _check_pair_free(conn, scope, conversation["sid"],
                         Binding(current["binding_type"], current["address"], proxy, None), exclude=current["sid"])
        changes["proxy_address"] = proxy
    if fields.projected_address is not None:
        projected = None if fields.projected_address == UNSET else parse_address(
            fields.projected_address, "MessagingBinding.ProjectedAddress").value
        _check_projected_free(conn, conversation["sid"], projected, exclude=current["sid"])
        changes["projected_address"] = projected
        if current["address"] is None:
            changes["binding_type"] = "sms" if projected else None
    if fields.role_sid is not None:
        _check_role(conn, conversation["chat_service_sid"], fields.role_sid)
        changes["role_sid"] = fields.role_sid
    for name in ("attributes", "last_read_message_index", "last_read_timestamp", "date_created"):
        value = getattr(fields, name)
        if value is not None:
            changes[name] = value
    changes["date_updated"] = fields.date_updated or clock.now()
    conn.execute(update(participants).where(participants.c.sid == current["sid"]).values(**changes))
    ensure_user(conn, scope, conversation["chat_service_sid"], changes.get("identity"))
    row = conn.execute(select(participants).where(participants.c.sid == current["sid"])).mappings().one()
    emit(conn, scope, "onParticipantUpdated", conversation["sid"], {"participant": dict(row)})
    return row


def do_delete_participant(conn: Connection, scope: Scope, conversation_key: str, key: str) -> None:
    conversation = get_conversation(conn, scope, conversation_key)
    current = get_participant(conn, conversation["sid"], key)
    conn.execute(delete(participants).where(participants.c.sid == current["sid"]))
    conn.execute(update(conversations).where(conversations.c.sid == conversation["sid"]).values(
        participants_count=conversations.c.participants_count - 1,
        non_chat_count=conversations.c.non_chat_count - (1 if current["address"] is not None else 0)))
    emit(conn, scope, "onParticipantRemoved", conversation["sid"], {"participant": dict(current)})
