"""The post-action worker: sends the queued webhook deliveries and retries them.

Deliveries are rows written in the same transaction as the change (`store.record_deliveries`), recorded
as already claimed by this process's dispatcher. After the commit, the database's commit listener hands
them over; one read confirms which committed (a rolled-back write leaves no row) and they are sent as
Twilio would (signed, form-encoded, `I-Twilio-Idempotency-Token` constant across retries, `RetryCount` =
the attempts before this one). Outcomes are written back in batches. A failed attempt (no 2xx answer
within the timeout) is retried on the configured schedule; after the last retry the delivery is parked as
`failed`, from where the API or `hubbub webhooks replay` can queue it again. Retries that fall due,
replays and deliveries nobody has in hand are claimed from the table.

Ordering: the first attempts of one conversation's deliveries to one URL go out one after another in
commit order (a lane per conversation and URL); retries do not hold a lane up. Deliveries not bound to a
conversation (user events) and retries go out concurrently, up to `HUBBUB_WEBHOOK_CONCURRENCY` requests.

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
from collections import deque
from collections.abc import Callable, Coroutine
from functools import partial
from typing import Any

from sqlalchemy import Connection, select

from hubbub.domain import clock
from hubbub.store.database import Database
from hubbub.store.schema import accounts
from hubbub.webhooks import store
from hubbub.webhooks.config import WebhookSettings
from hubbub.webhooks.http import Sender, SendError, make_sender
from hubbub.webhooks.signing import signed_request

log = logging.getLogger(__name__)

USER_AGENT = "TwilioProxy/1.1"
CLAIM_BATCH = 500
MAX_HELD = 5000  # deliveries held in memory (claimed, not yet finished) before claiming pauses
TOKEN_TTL = 60.0
DRAIN_GRACE = 2.0  # on shutdown, how long requests in flight may finish
FLUSH_DELAY = 0.02  # outcomes wait up to this long to be written together…
FLUSH_BATCH = 500  # …unless this many are waiting


class AuthTokens:
    """Account SID → Auth Token (the signing key), cached for a minute."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._cache: dict[str, tuple[str | None, float]] = {}

    async def get(self, account_sid: str) -> str | None:
        cached = self._cache.get(account_sid)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]

        def query(conn: Connection) -> str | None:
            return conn.execute(select(accounts.c.auth_token).where(accounts.c.sid == account_sid)).scalar()

        token = await self._db.read(query)
        self._cache[account_sid] = (token, time.monotonic() + TOKEN_TTL)
        return token


async def send_signed(sender: Sender, token: str, method: str, url: str, params: list[tuple[str, str]],
                      timeout: float, extra_headers: dict[str, str] | None = None
                      ) -> tuple[int | None, bytes, str | None, int]:
    """One signed webhook request: (status or None, response body, error text or None, latency in µs)."""
    started = time.perf_counter()
    status: int | None = None
    content = b""
    error: str | None = None
    try:
        target, body, headers = signed_request(token, method, url, params)
        headers["User-Agent"] = USER_AGENT
        if extra_headers:
            headers.update(extra_headers)
        status, content = await sender.send(method, target, body, headers, timeout)
        if not 200 <= status < 300:
            error = f"HTTP {status}"
    except SendError as exc:
        error = str(exc)
    except Exception as exc:  # noqa: BLE001 - a bad URL or the like must not kill the worker
        error = f"{type(exc).__name__}: {exc}"
    return status, content, error, int((time.perf_counter() - started) * 1_000_000)


class Dispatcher:
    def __init__(self, db: Database, settings: WebhookSettings, transport: Any = None) -> None:
        """`transport`: an httpx transport to send through instead of the default client."""
        self.db = db
        self.settings = settings
        self.me = secrets.token_hex(8)
        self._postgres = not db.sqlite
        self._transport = transport
        self._sender: Sender | None = None
        self._tokens = AuthTokens(db)
        self._sem = asyncio.Semaphore(settings.concurrency)
        self._wake = asyncio.Event()
        self._flushable = asyncio.Event()
        self._lanes: dict[tuple[str, str], deque[store.Delivery]] = {}
        self._outcomes: list[store.Outcome] = []
        self._held = 0
        self._in_flight: set[asyncio.Task[Any]] = set()
        self._workers: list[asyncio.Task[Any]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake_scheduled = False
        self._stopped = False
        self._incoming: list[store.Delivery] = []
        self._verifier: asyncio.Task[Any] | None = None
        self._overflow = False

    # -- lifecycle ---------------------------------------------------------------------------------------
    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._sender = make_sender(self.settings.concurrency, self._transport)
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
        if self._in_flight:
            await asyncio.wait(self._in_flight, timeout=DRAIN_GRACE)
        for task in list(self._in_flight):
            task.cancel()
        await asyncio.gather(*self._in_flight, return_exceptions=True)
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
        queued, fresh = store.take_recorded()
        if fresh and not self._stopped and self._loop is not None:
            try:
                self._loop.call_soon_threadsafe(self._receive, fresh)
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
    def _receive(self, fresh: list[store.Delivery]) -> None:
        self._incoming.extend(fresh)
        if self._verifier is None or self._verifier.done():
            self._verifier = asyncio.create_task(self._verify_loop(), name="webhook-fresh")

    async def _verify_loop(self) -> None:
        """Send the fresh deliveries whose write committed (a rolled-back write leaves no row), in order."""
        while self._incoming:
            batch, self._incoming = self._incoming, []
            sids = [d.sid for d in batch]
            try:
                found: dict[str, int] = await self.db.read(partial(store.confirm, me=self.me, sids=sids))
            except Exception:
                log.exception("webhook dispatcher: confirming new deliveries failed; queueing them")
                await self._retrying(partial(store.release_sids, me=self.me, sids=sids))
                self._wake.set()
                continue
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
                def job(conn: Connection, limit: int = limit) -> tuple[list[store.Delivery], int | None]:
                    found = store.claim(conn, me=self.me, limit=limit, lease_ms=lease_ms, postgres=self._postgres)
                    return found, store.next_due_ms(conn)

                try:
                    claimed, next_due = await self.db.write(job)
                except Exception:
                    log.exception("webhook dispatcher: claiming deliveries failed")
                    await asyncio.sleep(1.0)
                    continue
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

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.create_task(coro)
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)

    def _dispatch(self, delivery: store.Delivery) -> None:
        self._held += 1
        if delivery.attempts > 0 or delivery.conversation_sid is None:
            self._spawn(self._deliver(delivery))
            return
        key = (delivery.conversation_sid, delivery.url)
        lane = self._lanes.get(key)
        if lane is not None:
            lane.append(delivery)
            return
        lane = deque([delivery])
        self._lanes[key] = lane
        self._spawn(self._run_lane(key, lane))

    async def _run_lane(self, key: tuple[str, str], lane: deque[store.Delivery]) -> None:
        try:
            while lane:
                await self._deliver(lane[0])
                lane.popleft()
        finally:
            if self._lanes.get(key) is lane:
                del self._lanes[key]

    # -- sending -----------------------------------------------------------------------------------------
    async def _deliver(self, delivery: store.Delivery) -> None:
        async with self._sem:
            outcome = await self._attempt(delivery)
        self._outcomes.append(outcome)
        self._flushable.set()

    async def _attempt(self, d: store.Delivery) -> store.Outcome:
        started_ms = clock.now_ms()
        token = await self._tokens.get(d.account_sid)
        if token is None:  # the account is gone: nothing can be signed
            return store.Outcome(d, False, None, "the account no longer exists", 0, started_ms)
        params = [(name, value) for name, value in d.params]
        params.append(("RetryCount", str(d.attempts)))
        assert self._sender is not None
        code, _, error, latency = await send_signed(self._sender, token, d.method, d.url, params,
                                                    self.settings.timeout,
                                                    {"I-Twilio-Idempotency-Token": d.idempotency_token})
        return store.Outcome(d, error is None, code, error, latency, started_ms)

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
            try:
                await self._write_outcomes(batch)
            except Exception:
                log.exception("webhook dispatcher: recording outcomes failed; retrying")
                self._outcomes[:0] = batch
                await asyncio.sleep(1.0)
                self._flushable.set()
                continue
            was_full = self._held >= MAX_HELD
            self._held -= len(batch)
            if was_full or not all(o.ok for o in batch):
                self._wake.set()  # room to claim again, or a retry time to schedule

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
    while True:
        removed = await db.write(lambda conn: store.purge(conn, cutoff))
        total += removed
        if removed == 0:
            return total
