"""The event hub: reads the `events` outbox after each commit and fans events out to connected clients.

Every committed change is an `events` row whose `id` is its stream position. A commit listener on the
database wakes the hub, which reads the new rows in order and hands each client the events it may see:
those of the conversations its identity is a participant of, and its own user's. Each event is rendered,
JSON-encoded and framed once, whatever the number of recipients; each recipient then costs one write of
the same bytes (output.py). A client too slow to take its frames is disconnected; it reconnects and
resumes.

Resume: a client connecting with the last position it saw gets everything it missed, in order, then live
events, with no gap and no duplicate. While it catches up the hub parks the live rows for it; the
catch-up replays the outbox from its position with the membership the user had at each point of the
stream (derived from its participant events, and from the participant identities a conversationRemoved
event records, since deleting a conversation deletes its participants without participant events), then
switches it to live delivery in one step.

PostgreSQL allocates ids before commit, so a row may become visible after a higher id: the hub waits
(up to GAP_WAIT seconds) for a missing id before moving past it. SQLite commits in id order.

Typing indicators never touch the database: they go from one client through the hub to the others.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import orjson

from hubbub import errors
from hubbub.actions import realtime as actions
from hubbub.errors import TwilioError
from hubbub.realtime import render
from hubbub.realtime.output import OutFrame, Output
from hubbub.store.database import Database

log = logging.getLogger(__name__)

BATCH = 1000
MAX_REPLAY = 10_000  # events a resume may replay; older positions must resynchronise
GAP_WAIT = 1.0
TYPING_TIMEOUT = 5.0  # typingEnded after this long without a typing signal (Twilio's client default)

CLOSE_TOO_SLOW = 4008

MEMBERSHIP_EVENTS = frozenset({"onParticipantAdded", "onParticipantRemoved"})


class Session:
    """One connected client: who it is, what it may see, and where its frames go (output.py)."""

    __slots__ = ("account_sid", "service_sid", "identity", "conversations", "position", "output", "pending",
                 "held", "too_slow", "close_code")

    def __init__(self, account_sid: str, service_sid: str, identity: str, output: Output) -> None:
        self.account_sid = account_sid
        self.service_sid = service_sid
        self.identity = identity
        self.conversations: set[str] = set()
        self.position = 0
        self.output = output
        self.pending: list[Any] | None = None  # rows parked while catching up
        self.held: list[OutFrame] | None = None  # frames of one outbox batch, written together
        self.too_slow = False
        self.close_code: int | None = None

    def close(self, code: int) -> None:
        """Send what is already written or queued, then close the connection with `code`."""
        if self.close_code is None:
            self.close_code = code
            self.output.close(code)

    @property
    def user_key(self) -> tuple[str, str]:
        return self.service_sid, self.identity

    def send(self, frame: OutFrame) -> None:
        if self.held is not None:
            self.held.append(frame)
            return
        if self.too_slow:
            return
        if not self.output.put(frame):
            self.too_slow = True
            self.close(CLOSE_TOO_SLOW)

    def release(self) -> None:
        """Write the frames held during an outbox batch, in one write."""
        frames, self.held = self.held, None
        if frames and not self.too_slow and not self.output.put_many(frames):
            self.too_slow = True
            self.close(CLOSE_TOO_SLOW)

    def deliver(self, position: int, frame: OutFrame) -> None:
        if position > self.position:
            self.position = position
            self.send(frame)


def event_frame(row: Any, data: dict[str, Any], payload: dict[str, Any]) -> OutFrame | None:
    spec = render.EVENTS.get(row.type)
    if spec is None:
        return None
    name, key, renderer = spec
    body = data.get(key)
    if body is None:
        return None
    return OutFrame.of({"type": "event", "pos": row.id, "event": name, "conversation_sid": row.conversation_sid,
                        "source": payload.get("source"), "client_identity": payload.get("client_identity"),
                        "data": {key: renderer(body)}})


def _decode(row: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    payload = orjson.loads(row.payload)
    return payload, payload.get("data") or {}


def _subject(row: Any, data: dict[str, Any]) -> tuple[str | None, str | None]:
    """(service, identity) a participant or user event is about."""
    thing = data.get("participant") if row.conversation_sid else data.get("user")
    if not isinstance(thing, dict):
        return None, None
    return thing.get("chat_service_sid"), thing.get("identity")


def _was_member(data: dict[str, Any], me: tuple[str, str]) -> bool:
    """Whether `me` was a participant of a conversation when it was deleted (the identities are recorded
    in the onConversationRemoved event: actions/conversations.py)."""
    conversation = data.get("conversation")
    return isinstance(conversation, dict) and conversation.get("chat_service_sid") == me[0] \
        and me[1] in (data.get("participant_identities") or ())


def replay(rows: list[Any], session: Session, members: set[str], known_at: int, deliver_after: int
           ) -> tuple[set[str], list[tuple[int, OutFrame]]]:
    """Walk `rows` (in stream order) as `session` would have seen them live.

    `members` is the identity's membership as of position `known_at`; the walk first undoes the identity's
    own participant events at or before `known_at` to find the membership at the start of `rows`, then
    replays forward, collecting the frames after `deliver_after`. Returns (membership at the end, frames).
    """
    decoded = [(row, *_decode(row)) for row in rows]
    me = session.user_key
    members = set(members)
    for row, _, data in reversed(decoded):
        if row.id > known_at:
            continue
        if row.type in MEMBERSHIP_EVENTS and _subject(row, data) == me:
            if row.type == "onParticipantAdded":
                members.discard(row.conversation_sid)
            else:
                members.add(row.conversation_sid)
        elif row.type == "onConversationRemoved" and _was_member(data, me):
            members.add(row.conversation_sid)
    frames: list[tuple[int, OutFrame]] = []
    for row, payload, data in decoded:
        visible = False
        if row.conversation_sid:
            if row.type == "onParticipantAdded" and _subject(row, data) == me:
                members.add(row.conversation_sid)
            visible = row.conversation_sid in members
            if (row.type == "onParticipantRemoved" and _subject(row, data) == me) or \
                    row.type == "onConversationRemoved":
                members.discard(row.conversation_sid)
        elif _subject(row, data) == me or any(c in members for c in data.get("conversations") or ()):
            visible = True
        if visible and row.id > deliver_after:
            frame = event_frame(row, data, payload)
            if frame is not None:
                frames.append((row.id, frame))
    return members, frames


class Hub:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.position = 0
        self.by_conversation: dict[str, set[Session]] = {}
        self.by_user: dict[tuple[str, str], set[Session]] = {}
        self.catching_up: set[Session] = set()
        self.typing: dict[tuple[str, str], asyncio.TimerHandle] = {}
        self._wake = asyncio.Event()
        self._advanced = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._gap: tuple[int, float] | None = None
        self._holding: list[Session] | None = None  # sessions with frames held in this batch

    # -- lifecycle ---------------------------------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.position = await self.db.read(actions.last_event_id)
        self.db.add_commit_listener(self._on_commit)
        self._task = asyncio.create_task(self._run(), name="realtime-hub")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        for handle in self.typing.values():
            handle.cancel()
        self.typing.clear()

    def _on_commit(self) -> None:  # on the writer thread
        loop = self._loop
        if loop is not None:
            try:
                loop.call_soon_threadsafe(self._wake.set)
            except RuntimeError:  # loop closed during shutdown
                pass

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self._drain()
            except Exception:
                log.exception("realtime hub: reading the outbox failed")
                await asyncio.sleep(0.5)
                self._wake.set()

    async def _drain(self) -> None:
        while True:
            rows = await self.db.read(lambda conn: actions.events_after(conn, self.position, BATCH))
            taken = 0
            # several events at once (a group commit, or the hub catching up after a stall): each client
            # gets its frames of the batch in one write instead of one write per frame
            self._holding = [] if len(rows) > 1 else None
            try:
                for row in rows:
                    if row.id != self.position + 1 and not self._gap_expired(self.position + 1):
                        self._retry_soon()
                        break
                    self._gap = None
                    self._dispatch(row)
                    taken += 1
            finally:
                holding, self._holding = self._holding, None
                for session in holding or ():
                    session.release()
            if taken:
                self._advanced.set()
                self._advanced = asyncio.Event()
            if taken < BATCH or taken < len(rows):
                return

    def _gap_expired(self, missing: int) -> bool:
        now = time.monotonic()
        if self._gap is None or self._gap[0] != missing:
            self._gap = (missing, now)
        return now - self._gap[1] >= GAP_WAIT

    def _retry_soon(self) -> None:
        assert self._loop is not None
        self._loop.call_later(0.02, self._wake.set)

    # -- fan-out -----------------------------------------------------------------------------------
    def _dispatch(self, row: Any) -> None:
        self.position = row.id
        for session in self.catching_up:
            assert session.pending is not None
            session.pending.append(row)
        if row.type not in render.EVENTS or not (self.by_conversation or self.by_user):
            return  # nobody connected: no frame to build
        payload, data = _decode(row)
        frame = event_frame(row, data, payload)
        if frame is None:
            return
        conversation = row.conversation_sid
        if conversation is None:  # a user's event: to the user, and (reachability) its conversations
            self._fan_out(self.by_user.get(_subject(row, data), ()), row.id, frame)  # type: ignore[arg-type]
            for shared in data.get("conversations") or ():
                self._fan_out(self.by_conversation.get(shared, ()), row.id, frame)
            return
        if row.type == "onParticipantAdded":
            for session in self.by_user.get(_subject(row, data), ()):  # type: ignore[arg-type]
                self._join(session, conversation)
        targets = list(self.by_conversation.get(conversation, ()))
        self._fan_out(targets, row.id, frame)
        if row.type == "onParticipantRemoved":
            for session in list(self.by_user.get(_subject(row, data), ())):  # type: ignore[arg-type]
                self._leave(session, conversation)
        elif row.type == "onConversationRemoved":
            for session in targets:
                self._leave(session, conversation)
        elif row.type == "onMessageAdded":
            author = str((data.get("message") or {}).get("author"))
            handle = self.typing.get((conversation, author))
            if handle is not None:
                handle.cancel()
                self._typing_ended(conversation, author, None)

    def _fan_out(self, sessions: Any, position: int, frame: OutFrame) -> None:
        """`frame` to each of `sessions` that has not had `position` yet: the same bytes for all."""
        holding = self._holding
        if holding is None:
            for session in sessions:
                session.deliver(position, frame)
            return
        for session in sessions:
            if session.held is None:
                session.held = []
                holding.append(session)
            session.deliver(position, frame)

    def _join(self, session: Session, conversation: str) -> None:
        session.conversations.add(conversation)
        self.by_conversation.setdefault(conversation, set()).add(session)

    def _leave(self, session: Session, conversation: str) -> None:
        session.conversations.discard(conversation)
        members = self.by_conversation.get(conversation)
        if members is not None:
            members.discard(session)
            if not members:
                del self.by_conversation[conversation]

    # -- sessions ----------------------------------------------------------------------------------
    async def attach(self, session: Session, members: list[str], known_at: int, resume_from: int | None,
                     read: Callable[[int, int], Any]) -> int:
        """Connect `session` (membership `members` as of stream position `known_at`) and, when
        `resume_from` is given, queue everything after it that the client may see. Returns the position
        the client is at once the frames queued so far are delivered."""
        session.pending = []
        self.catching_up.add(session)
        try:
            deadline = time.monotonic() + 10
            while self.position < known_at and time.monotonic() < deadline:  # the hub lags the database
                self._wake.set()
                try:
                    await asyncio.wait_for(self._advanced.wait(), timeout=0.2)
                except TimeoutError:
                    pass
            parked_from = self.position
            start = known_at if resume_from is None else min(resume_from, known_at)
            if resume_from is not None and parked_from - resume_from > MAX_REPLAY:
                raise TwilioError("The resume position is too old to replay; reload and connect without it",
                                  code=errors.RESYNC_REQUIRED, status=409)
            backlog: list[Any] = []
            if start < parked_from:
                backlog = await read(start, parked_from)
            # from here to the end nothing awaits: the hub cannot dispatch in between
            parked = session.pending
            rows = [r for r in backlog if r.id <= parked_from] + list(parked)
            deliver_after = known_at if resume_from is None else resume_from
            membership, frames = replay(rows, session, set(members), known_at, deliver_after)
            for position, frame in frames:
                session.deliver(position, frame)
            # every row up to the hub's position has now been considered for this client
            session.position = max(session.position, deliver_after, self.position)
            for conversation in membership:
                self._join(session, conversation)
            self.by_user.setdefault(session.user_key, set()).add(session)
            return session.position
        finally:
            self.catching_up.discard(session)
            session.pending = None

    def detach(self, session: Session) -> None:
        for conversation in list(session.conversations):
            self._leave(session, conversation)
        sessions = self.by_user.get(session.user_key)
        if sessions is not None:
            sessions.discard(session)
            if not sessions:
                del self.by_user[session.user_key]

    # -- typing ------------------------------------------------------------------------------------
    def typing_signal(self, session: Session, conversation: str) -> None:
        """A client is typing in `conversation`: the others get typingStarted once per burst, and
        typingEnded TYPING_TIMEOUT seconds after its last signal (or when its message arrives)."""
        if conversation not in session.conversations:
            raise actions.not_participant(conversation)
        key = (conversation, session.identity)
        handle = self.typing.get(key)
        if handle is not None:
            handle.cancel()
        else:
            self._typing_frame("typingStarted", conversation, session.identity)
        assert self._loop is not None
        self.typing[key] = self._loop.call_later(TYPING_TIMEOUT, self._typing_ended, conversation,
                                                 session.identity, None)

    def _typing_ended(self, conversation: str, identity: str, _: Any) -> None:
        if self.typing.pop((conversation, identity), None) is not None:
            self._typing_frame("typingEnded", conversation, identity)

    def _typing_frame(self, name: str, conversation: str, identity: str) -> None:
        frame = OutFrame.of({"type": "typing", "event": name, "conversation_sid": conversation,
                             "identity": identity})
        for session in self.by_conversation.get(conversation, ()):
            if session.identity != identity:
                session.send(frame)
