"""The post-action worker: sends the queued webhook deliveries and retries them.

Deliveries are rows written in the same transaction as the change (`store.record_deliveries`), recorded
as already claimed by this process's dispatcher. After the commit, the database's commit listener hands
them over; one read confirms which committed (a rolled-back write leaves no row) and they are sent as
Twilio would (signed, form-encoded, `I-Twilio-Idempotency-Token` constant across retries, `RetryCount` =
the attempts before this one). Outcomes are written back in batches. A failed attempt (no 2xx answer
within the timeout) is retried on the configured schedule; after the last retry the delivery is parked as
`failed`, from where the API or `hubbub webhooks replay` can queue it again. Retries that fall due,
replays and deliveries nobody has in hand are claimed from the table.

Where the requests are made: by default in a child process (`hubbub/webhooks/sender.py`,
`HUBBUB_WEBHOOK_SENDER=process`) that this dispatcher starts, feeds and restarts, so the API's event loop
pays only for the database side of a delivery; with `inline` (or an injected httpx transport) in this
process. Either way this process keeps all the database work, the retry schedule and the test clock.

Ordering: the first attempts of one conversation's deliveries to one URL go out one after another in
commit order (a lane per conversation and URL, `sending.Lanes`); retries do not hold a lane up. Deliveries
not bound to a conversation (user events) and retries go out concurrently, up to
`HUBBUB_WEBHOOK_CONCURRENCY` requests.

Restarts: a delivery stays `pending` or `sending` in the database until its outcome is written, so after
a crash it is sent again (at least once; the idempotency token lets the receiver drop the duplicate).
On SQLite (one server process) whatever a previous run had `sending` is released at start-up; on
PostgreSQL (several processes) a claim carries a lease that its process renews, and an expired lease is
taken over.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

import orjson
from sqlalchemy import Connection, select

from hubbub.domain import clock
from hubbub.store.database import Database
from hubbub.store.prepared import INTEGRITY_ERRORS
from hubbub.store.schema import accounts
from hubbub.webhooks import store
from hubbub.webhooks.config import WebhookSettings
from hubbub.webhooks.http import Sender, make_sender
from hubbub.webhooks.sender import SenderProcess
from hubbub.webhooks.sending import USER_AGENT, Lanes, send_signed

__all__ = ["USER_AGENT", "Dispatcher", "purge_log", "send_signed"]

log = logging.getLogger(__name__)

CLAIM_BATCH = 500
MAX_HELD = 5000  # deliveries held in memory (claimed, not yet finished) before claiming pauses
TOKEN_TTL = 60.0
DRAIN_GRACE = 2.0  # on shutdown, how long requests in flight may finish
FLUSH_DELAY = 0.05  # outcomes wait up to this long to be written together (fewer, larger commits)…
FLUSH_BATCH = 2000  # …unless this many are waiting
# Deliveries wait this long to go to the sender process together: one socket write (and one read and parse
# there) per few milliseconds instead of one per turn of the event loop.
SHIP_DELAY = 0.002


class AuthTokens:
    """Account SID → Auth Token (the signing key), cached for a minute."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._cache: dict[str, tuple[str | None, float]] = {}

    def missing(self, account_sids: Iterable[str]) -> list[str]:
        now = time.monotonic()
        return [sid for sid in set(account_sids)
                if (cached := self._cache.get(sid)) is None or cached[1] <= now]

    def load(self, conn: Connection, account_sids: list[str]) -> dict[str, str | None]:
        """(On a database thread) the tokens of these accounts; None for an account that is gone."""
        if not account_sids:
            return {}
        found: dict[str, str | None] = dict.fromkeys(account_sids)
        for sid, token in conn.execute(select(accounts.c.sid, accounts.c.auth_token)
                                       .where(accounts.c.sid.in_(account_sids))):
            found[sid] = token
        return found

    def put(self, tokens: dict[str, str | None]) -> None:
        expires = time.monotonic() + TOKEN_TTL
        for sid, token in tokens.items():
            self._cache[sid] = (token, expires)

    def peek(self, account_sid: str) -> tuple[bool, str | None]:
        """(known, token), expired or not: for deliveries whose tokens were just loaded with `load`."""
        cached = self._cache.get(account_sid)
        return (False, None) if cached is None else (True, cached[0])

    async def get(self, account_sid: str) -> str | None:
        cached = self._cache.get(account_sid)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]

        def query(conn: Connection) -> str | None:
            return conn.execute(select(accounts.c.auth_token).where(accounts.c.sid == account_sid)).scalar()

        token = await self._db.read(query)
        self._cache[account_sid] = (token, time.monotonic() + TOKEN_TTL)
        return token


def _lane(d: store.Delivery) -> tuple[str, str] | None:
    """First attempts of a conversation's deliveries to one URL keep their order; the rest do not queue."""
    return (d.conversation_sid, d.url) if d.attempts == 0 and d.conversation_sid is not None else None


class Dispatcher:
    def __init__(self, db: Database, settings: WebhookSettings, transport: Any = None) -> None:
        """`transport`: an httpx transport to send through (in this process) instead of the default client."""
        self.db = db
        self.settings = settings
        self.me = secrets.token_hex(8)
        self._postgres = not db.sqlite
        self._transport = transport
        # requests from a child process unless told otherwise (an injected transport lives in this process)
        self.in_process = transport is not None or settings.sender == "inline"
        self._sender: Sender | None = None
        self._lanes: Lanes[store.Delivery] | None = None
        self.child: SenderProcess | None = None
        self._in_child: dict[int, store.Delivery] = {}  # shipped (or to ship), no outcome yet; in ship order
        self._to_ship: list[list[Any]] = []
        self._ship_scheduled = False
        self._tokens = AuthTokens(db)
        self._wake = asyncio.Event()
        self._flushable = asyncio.Event()
        self._outcomes: list[store.Outcome] = []
        self._held = 0
        self._workers: list[asyncio.Task[Any]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake_scheduled = False
        self._stopped = False
        self._incoming: list[tuple[list[store.Delivery], bool]] = []  # (fresh deliveries, confirmed)
        self._verifier: asyncio.Task[Any] | None = None
        self._overflow = False

    # -- lifecycle ---------------------------------------------------------------------------------------
    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        if self.in_process:
            self._sender = make_sender(self.settings.concurrency, self._transport)
            self._lanes = Lanes(self.settings.concurrency, self._deliver)
        else:
            self.child = SenderProcess(timeout=self.settings.timeout, concurrency=self.settings.concurrency,
                                       cpus=self.settings.sender_cpus, on_outcomes=self._child_outcomes,
                                       on_connected=self._child_connected)
            self.child.start()
        store.OWNER.me, store.OWNER.lease_ms = self.me, int(self.settings.lease * 1000)
        self.db.add_commit_listener(self._on_commit)
        self._workers = [asyncio.create_task(self._run(), name="webhook-dispatcher"),
                         asyncio.create_task(self._flush_loop(), name="webhook-outcomes")]
        if self._postgres:
            self._workers.append(asyncio.create_task(self._renew_loop(), name="webhook-leases"))

    async def stop(self) -> None:
        self._stopped = True
        if store.OWNER.me == self.me:
            store.OWNER.me = None  # from now on deliveries are recorded for whoever dispatches next
        self._workers[0].cancel()
        if self._verifier is not None:
            self._verifier.cancel()
        if self._lanes is not None:
            await self._lanes.drain(DRAIN_GRACE)
        if self.child is not None:
            await self.child.stop()  # the child finishes what it has in flight and reports the outcomes
        for task in self._workers:
            task.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        try:
            if self._outcomes:
                await self._write_outcomes(self._outcomes)
            await self.db.write(lambda conn: store.release(conn, self.me))
        except Exception:
            log.exception("webhook dispatcher: could not save its state on shutdown (resent after restart)")
        if self._sender is not None:
            await self._sender.close()

    # -- waking ------------------------------------------------------------------------------------------
    def _on_commit(self) -> None:
        """On the writer thread, after every commit: take over the deliveries it recorded."""
        queued, fresh, confirmed = store.take_committed(self.me)
        if fresh and not self._stopped and self._loop is not None:
            try:
                self._loop.call_soon_threadsafe(self._receive, fresh, confirmed)
            except RuntimeError:  # the loop closed during shutdown
                pass
        if queued:
            self.wake_threadsafe()

    def wake_threadsafe(self) -> None:
        if self._wake_scheduled or self._stopped or self._loop is None:
            return
        self._wake_scheduled = True
        try:
            self._loop.call_soon_threadsafe(self._woken)
        except RuntimeError:  # the loop closed during shutdown
            pass

    def _woken(self) -> None:
        self._wake_scheduled = False
        self._wake.set()

    def wake(self) -> None:
        """From the event loop: look for due deliveries now (e.g. after the test clock moved)."""
        self._wake.set()

    # -- fresh deliveries: recorded as ours in the writer's transaction ---------------------------------
    def _receive(self, fresh: list[store.Delivery], confirmed: bool) -> None:
        if (confirmed and not self._incoming and not self._overflow and self._held < MAX_HELD
                and not self._tokens.missing(d.account_sid for d in fresh)):
            for delivery in fresh:  # the common case: straight out, no database read
                self._dispatch(delivery)
            return
        self._incoming.append((fresh, confirmed))
        if self._verifier is None or self._verifier.done():
            self._verifier = asyncio.create_task(self._verify_loop(), name="webhook-fresh")

    async def _verify_loop(self) -> None:
        """Send the fresh deliveries whose write committed (a rolled-back write leaves no row), in order."""
        while self._incoming:
            (batch, confirmed), *_ = self._incoming
            sids = [d.sid for d in batch]
            wanted = self._tokens.missing(d.account_sid for d in batch)

            def confirm(conn: Connection, batch: list[store.Delivery] = batch, confirmed: bool = confirmed,
                        wanted: list[str] = wanted) -> tuple[dict[str, int], dict[str, str | None]]:
                found = ({d.sid: d.id for d in batch} if confirmed
                         else store.confirm(conn, self.me, [d.sid for d in batch]))
                return found, self._tokens.load(conn, wanted)

            try:
                found, tokens = await self.db.read(confirm)
            except Exception:
                log.exception("webhook dispatcher: confirming new deliveries failed; queueing them")
                self._incoming.pop(0)
                self._overflow = True
                await self._retrying(partial(store.release_sids, me=self.me, sids=sids))
                self._wake.set()
                continue
            self._incoming.pop(0)
            self._tokens.put(tokens)
            if self._overflow or self._held >= MAX_HELD:
                # too many in hand: queue these behind the backlog, which the claims work through in order
                self._overflow = True
                await self._retrying(partial(store.release_sids, me=self.me, sids=list(found)))
                self._wake.set()
                continue
            for delivery in batch:
                delivery_id = found.get(delivery.sid)
                if delivery_id is not None:
                    delivery.id = delivery_id
                    self._dispatch(delivery)

    # -- claiming ----------------------------------------------------------------------------------------
    async def _run(self) -> None:
        if not self._postgres:
            # one server process per SQLite file: what a previous run had in hand is free again
            await self._retrying(lambda conn: store.release(conn, None, keep=self.me))
        lease_ms = int(self.settings.lease * 1000)
        while True:
            self._wake.clear()
            next_due: int | None = None
            claimed: list[store.Delivery] = []
            room = MAX_HELD - self._held
            limit = min(CLAIM_BATCH, room)
            if limit > 0:
                def job(conn: Connection, limit: int = limit
                        ) -> tuple[list[store.Delivery], int | None, dict[str, str | None]]:
                    found = store.claim(conn, me=self.me, limit=limit, lease_ms=lease_ms, postgres=self._postgres)
                    tokens = self._tokens.load(conn, self._tokens.missing(d.account_sid for d in found))
                    return found, store.next_due_ms(conn), tokens

                try:
                    claimed, next_due, tokens = await self.db.write(job)
                except Exception:
                    log.exception("webhook dispatcher: claiming deliveries failed")
                    await asyncio.sleep(1.0)
                    continue
                self._tokens.put(tokens)
                for delivery in claimed:
                    self._dispatch(delivery)
                if len(claimed) == limit:
                    continue
                self._overflow = False  # the backlog is in hand: new deliveries may go straight out again
            timeout = self.settings.poll_interval
            if next_due is not None:
                timeout = min(timeout, max(0.0, (next_due - clock.now_ms()) / 1000))
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=timeout)
            except TimeoutError:
                pass

    async def _retrying(self, fn: Callable[[Connection], Any]) -> Any:
        while True:
            try:
                return await self.db.write(fn)
            except Exception:
                log.exception("webhook dispatcher: database write failed; retrying")
                await asyncio.sleep(1.0)

    def _dispatch(self, delivery: store.Delivery) -> None:
        self._held += 1
        if self._lanes is not None:
            self._lanes.submit(delivery, _lane(delivery))
            return
        # every path here loaded the tokens of its deliveries' accounts first (`_receive`, `_verify_loop`, `_run`)
        known, token = self._tokens.peek(delivery.account_sid)
        error = None
        if token is None:  # the account is gone: nothing can be signed
            error = "the account no longer exists" if known else "the signing key was not loaded"
        elif delivery.params is None and delivery.rendering is None:
            error = store.MISSING_EVENT
        if error is not None or token is None:
            self._finish(store.Outcome(delivery, False, None, error, 0, clock.now_ms()))
            return
        self._in_child[delivery.id] = delivery
        self._to_ship.append(self._job(delivery, token))
        if not self._ship_scheduled:
            self._ship_scheduled = True
            asyncio.get_running_loop().call_later(SHIP_DELAY, self._ship)

    # -- sending in this process -------------------------------------------------------------------------
    async def _deliver(self, delivery: store.Delivery) -> None:
        self._finish(await self._attempt(delivery))

    async def _attempt(self, d: store.Delivery) -> store.Outcome:
        started_ms = clock.now_ms()
        token = await self._tokens.get(d.account_sid)
        if token is None:  # the account is gone: nothing can be signed
            return store.Outcome(d, False, None, "the account no longer exists", 0, started_ms)
        try:
            params = d.parameters()
        except LookupError as exc:
            return store.Outcome(d, False, None, str(exc), 0, started_ms)
        params.append(("RetryCount", str(d.attempts)))
        assert self._sender is not None
        code, _, error, latency = await send_signed(self._sender, token, d.method, d.url, params,
                                                    self.settings.timeout,
                                                    {"I-Twilio-Idempotency-Token": d.idempotency_token})
        return store.Outcome(d, error is None, code, error, latency, started_ms)

    def _finish(self, outcome: store.Outcome) -> None:
        self._outcomes.append(outcome)
        self._flushable.set()

    # -- sending from the child process ------------------------------------------------------------------
    @staticmethod
    def _job(d: store.Delivery, token: str) -> list[Any]:
        """One delivery for the sender process: its parameters, or what it renders them from (the event's
        payload goes as the JSON it already is)."""
        lane = _lane(d)
        what: Any = d.params
        if what is None and d.rendering is not None:
            *head, payload = d.rendering
            what = {"render": [*head, orjson.Fragment(payload) if isinstance(payload, str | bytes) else payload]}
        return [d.id, d.method, d.url, what, token, d.idempotency_token, d.attempts,
                None if lane is None else f"{lane[0]} {lane[1]}"]

    def _ship(self) -> None:
        """Hand what `_dispatch` collected in this turn of the loop to the child, in one message."""
        self._ship_scheduled = False
        jobs, self._to_ship = self._to_ship, []
        if jobs and self.child is not None:
            self.child.ship(jobs)  # no child right now: `_child_connected` ships them to the next one

    def _child_connected(self) -> None:
        """A (new) child is there: give it everything in hand, in the order it was first shipped. After a
        crash that includes what the dead child may already have sent (at least once)."""
        self._to_ship = []
        if self._in_child and self.child is not None:
            jobs = []
            for d in self._in_child.values():
                _, token = self._tokens.peek(d.account_sid)
                jobs.append(self._job(d, token or ""))  # (only deliveries with a token were taken in)
            self.child.ship(jobs)

    def _child_outcomes(self, results: list[list[Any]]) -> None:
        offset = clock.now_ms() - store.wall_ms()  # the test clock lives in this process
        for delivery_id, code, error, latency_us, started_wall_ms in results:
            d = self._in_child.pop(delivery_id, None)
            if d is not None:
                self._outcomes.append(store.Outcome(d, error is None, code, error, latency_us,
                                                    started_wall_ms + offset))
        self._flushable.set()

    # -- writing outcomes --------------------------------------------------------------------------------
    async def _write_outcomes(self, batch: list[store.Outcome]) -> None:
        schedule = self.settings.retry_schedule
        await self.db.write(lambda conn: store.complete(conn, batch, me=self.me, schedule=schedule))

    async def _flush_loop(self) -> None:
        while True:
            await self._flushable.wait()
            if len(self._outcomes) < FLUSH_BATCH:
                # let outcomes gather for a moment: one write (and one commit) records many of them
                await asyncio.sleep(FLUSH_DELAY)
            self._flushable.clear()
            batch, self._outcomes = self._outcomes, []
            if not batch:
                continue
            left: list[store.Outcome] = []
            try:
                await self._write_outcomes(batch)
            except INTEGRITY_ERRORS:  # one of them is refused: find it
                log.exception("webhook dispatcher: recording %d outcomes failed; recording them one by one",
                              len(batch))
                left = await self._one_by_one(batch)
            except Exception:  # the database is away: all of them again later
                log.exception("webhook dispatcher: recording outcomes failed; retrying")
                left = batch
            was_full = self._held >= MAX_HELD
            self._held -= len(batch) - len(left)
            if was_full or not all(o.ok for o in batch):
                self._wake.set()  # room to claim again, or a retry time to schedule
            if left:
                self._outcomes[:0] = left
                await asyncio.sleep(1.0)
                self._flushable.set()

    async def _one_by_one(self, batch: list[store.Outcome]) -> list[store.Outcome]:
        """After the database refused a batch of outcomes: write each alone, so that one it refuses for good
        (e.g. its delivery row was deleted meanwhile) cannot hold back the others forever. That one is
        dropped; those that fail otherwise (the database went away) are returned, to be tried again."""
        left = []
        for outcome in batch:
            try:
                await self._write_outcomes([outcome])
            except INTEGRITY_ERRORS:
                log.error("webhook dispatcher: the outcome of delivery %s cannot be recorded; dropped "
                          "(the delivery stays where it was)", outcome.delivery.sid, exc_info=True)
            except Exception:
                left.append(outcome)
        return left

    async def _renew_loop(self) -> None:
        lease_ms = int(self.settings.lease * 1000)
        while True:
            await asyncio.sleep(self.settings.lease / 3)
            try:
                await self.db.write(lambda conn: store.renew(conn, self.me, lease_ms))
            except Exception:
                log.exception("webhook dispatcher: renewing leases failed")


async def purge_log(db: Database, settings: WebhookSettings) -> int:
    """Delete attempts and finished deliveries older than the retention, in batches."""
    cutoff = clock.now_ms() - int(settings.log_retention * 1000)
    total = 0
    after: tuple[int, int] | None = (0, 0)
    while after is not None:
        start: tuple[int, int] = after
        removed, after = await db.write(partial(store.purge, cutoff_ms=cutoff, after=start))
        total += removed
    return total
