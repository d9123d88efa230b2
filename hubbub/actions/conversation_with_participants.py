"""ConversationWithParticipants: a conversation and up to ten participants, created all at once.

Everything is validated before anything is written, and the conversation and every participant are written
in one transaction, so a failure leaves nothing behind and the same request can simply be retried.
While its participants are added the conversation is `initializing` (Twilio uses that state only here);
it then moves to the requested state.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy import Connection, RowMapping, select, update

from hubbub import errors
from hubbub.actions.common import Scope, emit
from hubbub.actions.conversations import ConversationFields, check_create_conversation, do_create_conversation
from hubbub.actions.participants import (
    Binding,
    ParticipantFields,
    check_create_participant,
    do_create_participant,
)
from hubbub.domain import clock
from hubbub.domain.conversation_state import Timers, due_times
from hubbub.errors import Conflict, InvalidParameter, TwilioError
from hubbub.store.schema import conversations

MAX_PARTICIPANTS_PER_REQUEST = 10


@dataclass(frozen=True)
class NewParticipant:
    fields: ParticipantFields
    binding: Binding


def _about(exc: TwilioError, number: int, code: int | None = None) -> TwilioError:
    """The same error, saying which `Participant` value (1-based, in request order) caused it."""
    return type(exc)(f"Participant {number}: {exc.message}", code=code or exc.code, status=exc.status)


def check_participant_count(count: int) -> None:
    if count > MAX_PARTICIPANTS_PER_REQUEST:
        raise InvalidParameter("Request contains too many participants: at most "
                               f"{MAX_PARTICIPANTS_PER_REQUEST} can be added in one request",
                               code=errors.TOO_MANY_PARTICIPANTS_IN_REQUEST)


def check_create_conversation_with_participants(
        fields: ConversationFields, participants: list[ParticipantFields]) -> list[NewParticipant]:
    """Validate the conversation, each participant and the participants against each other."""
    check_participant_count(len(participants))
    check_create_conversation(fields)
    checked: list[NewParticipant] = []
    for number, participant in enumerate(participants, 1):
        try:
            checked.append(NewParticipant(participant, check_create_participant(participant)))
        except TwilioError as exc:
            raise _about(exc, number) from None
    identities: set[str] = set()
    pairs: set[tuple[str, str | None]] = set()
    projected: set[str] = set()
    for number, new in enumerate(checked, 1):
        identity, binding = new.fields.identity, new.binding
        if identity is not None:
            if identity in identities:
                raise Conflict(f"Participant {number}: identity '{identity}' is given twice",
                               code=errors.PARTICIPANT_EXISTS)
            identities.add(identity)
        if binding.address is not None:
            pair = (binding.address, binding.proxy_address)
            if pair in pairs:
                raise Conflict(f"Participant {number}: the address pair ({binding.address}, "
                               f"{binding.proxy_address}) is given twice",
                               code=errors.DUPLICATE_IN_CONVERSATION)
            pairs.add(pair)
        if binding.projected_address is not None:
            if binding.projected_address in projected:
                raise Conflict(f"Participant {number}: projected address {binding.projected_address} "
                               "is given twice", code=errors.DUPLICATE_IN_CONVERSATION)
            projected.add(binding.projected_address)
    return checked


def do_create_conversation_with_participants(conn: Connection, scope: Scope, fields: ConversationFields,
                                             participants: list[NewParticipant]) -> RowMapping:
    if not participants:
        return do_create_conversation(conn, scope, fields)
    state = fields.state or "active"
    conversation = do_create_conversation(conn, scope, replace(fields, state="initializing"))
    sid = conversation["sid"]
    for number, new in enumerate(participants, 1):
        try:
            do_create_participant(conn, scope, sid, new.fields, new.binding)
        except Conflict as exc:
            if exc.code == errors.PAIR_IN_USE:
                raise _about(exc, number, errors.CWP_PAIR_IN_USE) from None
            raise Conflict(f"Errors occurred during multiple participants creation: participant {number}: "
                           f"{exc.message} ({exc.code})", code=errors.CWP_FAILED) from None
        except TwilioError as exc:
            raise _about(exc, number) from None
    timers = Timers(conversation["timer_inactive"], conversation["timer_closed"])
    date_inactive, date_closed = due_times(state, timers, clock.now())
    conn.execute(update(conversations).where(conversations.c.sid == sid).values(
        state=state, date_inactive=date_inactive, date_closed=date_closed))
    row = conn.execute(select(conversations).where(conversations.c.sid == sid)).mappings().one()
    emit(conn, scope, "onConversationStateUpdated", sid,
         {"conversation": dict(row), "state_from": "initializing", "state_to": state, "reason": "API"})
    return row
