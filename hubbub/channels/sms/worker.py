"""The SMS worker, started by the app's lifespan when `HUBBUB_SMS_CONFIG` is set.

    events outbox ──feeder──▶ sms_outbound (durable queue) ──dispatcher (per connection)──▶ SmppLink
                                   ▲                                   │ submit_sm_resp
    deliver_sm ──inbound──▶ do_receive (routing, opt-out replies)     ▼
         │ (receipts) ─────────────────────────────────────▶ results ──flusher──▶ receipts + onDeliveryUpdated

- The feeder turns `onMessageAdded` events after a durable cursor into queue rows, in one transaction
  with the cursor move (actions.sms.do_enqueue_from_outbox).
- A dispatcher per SMPP connection reads queued rows in id order and runs `window` senders; each sender
  submits the parts of one SMS that the SMSC has not accepted yet, paced by the connection's
  submits-per-second, and retries a part later on ESME_RTHROTTLED / ESME_RMSGQFUL, or after a re-bind when
  the SMSC never answered. Accepted parts are remembered, so a re-bind never re-sends them.
- The flusher writes SMSC answers and delivery receipts in batches (one transaction per batch, gathered for
  up to FLUSH_DELAY, or until half the `max_unrecorded` slots wait). A part holds one of its connection's
  `max_unrecorded` slots from before its submit_sm until its acceptance is committed, so at most that many
  parts per connection are ever accepted-but-not-recorded: that bounds what a hard kill can send twice.
- Inbound deliver_sm (SMS and receipts) are acknowledged to the SMSC only after the transaction that stored
  them committed; an SMS the SMSC delivers again because it never read that acknowledgement is recognised
  (actions.sms.do_receive) and not stored twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import time
from collections.abc import Callable
from typing import Any

from hubbub.actions import sms as actions
from hubbub.channels.sms.config import Connection, SmsConfig
from hubbub.channels.sms.pdus import (
    fingerprint,
    inbound_part,
    is_receipt,
    parse_receipt,
    relative_validity,
    submit_for,
)
from hubbub.channels.sms.smpp import Delivery, InboundSm, SmppLink
from hubbub.domain.sms_encoding import SmsPart, split_for_sms
from hubbub.store.database import Database

log = logging.getLogger("hubbub.sms")

FETCH_BATCH = 500
REFILL_AT = FETCH_BATCH // 2
RESULT_BATCH = 2000
# The flusher gathers results for up to this long, or until half a connection's `max_unrecorded` slots wait
# (at once when they are all taken): each transaction of results has a fixed cost (and a sync to disk), so
# fewer, larger ones cost less per SMS.
FLUSH_DELAY = 0.02
BACKLOG_RETRY = 1.0  # seconds between tries of receipts that came before their submit_sm_resp was recorded
INBOUND_ATTEMPTS = 4  # writes of an inbound SMS before the SMSC is asked to deliver it again later
STALE_PARTS = 24 * 3600
EXPIRY_SWEEP = 5.0
FEED_PAUSE = 0.05  # the feeder reads the events outbox at most once per this many seconds (unless it is behind)


@functools.lru_cache(maxsize=1024)
def _split(body: str, smart_encoding: bool) -> tuple[SmsPart, ...]:
    return tuple(split_for_sms(body, smart_encoding, ref=0))


def split_parts(body: str, smart_encoding: bool, ref: int) -> list[SmsPart]:
    """`split_for_sms` with the split of a body computed once for all its recipients (a message to a
    conversation goes to each SMS participant with the same body and its own concatenation reference)."""
    parts = _split(body, smart_encoding)
    if len(parts) == 1:
        return list(parts)
    return [dataclasses.replace(p, udh=p.udh[:3] + bytes((ref,)) + p.udh[4:]) for p in parts]


async def wait_event(event: asyncio.Event, timeout: float) -> None:
    """Wait for `event` at most `timeout` seconds. Not `asyncio.wait_for`: on Python 3.11 it can swallow a
    cancellation that arrives as the event is set, and then a worker never stops."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout):
            await event.wait()


class RateLimiter:
    """Token bucket: `rate` per second with a tenth of a second of burst; `pause` stops it for a while."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.capacity = max(1.0, rate / 10)
        self.tokens = self.capacity
        self.updated = time.monotonic()
        self.paused_until = 0.0

    def pause(self, seconds: float) -> None:
        self.paused_until = max(self.paused_until, time.monotonic() + seconds)

    def try_acquire(self) -> bool:
        """Take a token if one is there now (the usual case: no pause, no rate or tokens left)."""
        now = time.monotonic()
        if now < self.paused_until:
            return False
        if self.rate <= 0:
            return True
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False

    async def acquire(self) -> None:
        while True:
            now = time.monotonic()
            if now < self.paused_until:
                await asyncio.sleep(self.paused_until - now)
                continue
            if self.rate <= 0:
                return
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
            if self.tokens >= 1:
                self.tokens -= 1
                return
            await asyncio.sleep((1 - self.tokens) / self.rate)


class Dispatcher:
    """Sends the queue of one SMPP connection."""

    def __init__(self, worker: SmsWorker, config: Connection, link: SmppLink) -> None:
        self.worker = worker
        self.config = config
        self.link = link
        self.limiter = RateLimiter(config.submits_per_second)
        self.unrecorded = asyncio.Semaphore(config.max_unrecorded)
        self.wake = asyncio.Event()
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.high_water = 0  # rows up to this id are in memory (queued, in flight or done)

    def tasks(self) -> list[asyncio.Task[None]]:
        return [asyncio.create_task(self._fetch()),
                *(asyncio.create_task(self._sender()) for _ in range(self.config.window))]

    async def _fetch(self) -> None:
        db, name = self.worker.db, self.config.name
        last_sweep = 0.0
        while True:
            try:
                if time.monotonic() - last_sweep > EXPIRY_SWEEP:
                    # rows in memory expire when a sender takes them; this covers an SMSC that stays down
                    last_sweep = time.monotonic()
                    now = int(time.time())
                    await db.write(lambda c, now=now: actions.do_expire(c, name, now))
                if not self.link.connected.is_set():
                    await wait_event(self.link.connected, EXPIRY_SWEEP)
                    continue
                if self.queue.qsize() <= REFILL_AT:
                    after = self.high_water
                    rows = await db.read(lambda c, after=after: actions.queued_rows(c, name, after, FETCH_BATCH))
                    if rows:
                        self.high_water = rows[-1]["id"]
                        for row in rows:
                            self.queue.put_nowait(row)
                        continue
                self.wake.clear()
                await wait_event(self.wake, 1.0)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("SMS %s: reading the queue failed", name)
                await asyncio.sleep(1.0)

    async def _sender(self) -> None:
        while True:
            row = await self.queue.get()
            if self.queue.qsize() == REFILL_AT:
                self.wake.set()  # read the next rows while these are sent
            try:
                await self._send(row)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("SMS %s: sending %s failed; will retry", self.config.name, row.get("sid"))
                await asyncio.sleep(1.0)
                self.queue.put_nowait(row)

    async def _send(self, row: dict[str, Any]) -> None:
        report = self.worker.report
        if row.get("blocked") and row["kind"] == "message":
            report(actions.SendFailed(row, "failed", actions.BLOCKED))
            return
        parts = split_parts(row["body"], row["smart_encoding"], row["concat_ref"])
        done: set[int] = set(row.get("parts_done") or ())
        missing = [seq for seq in range(1, len(parts) + 1) if seq not in done]
        for seq in missing:
            # A part holds a slot of `unrecorded` from before its first submit_sm until its acceptance is
            # committed, or until it is known not to have been accepted (refused, throttled and given up,
            # expired). A part the SMSC never answered keeps its slot while it waits to be sent again. So
            # after a hard kill at most `max_unrecorded` parts are sent again (docs/sms.md, "At least once").
            await self.unrecorded.acquire()
            handed_over = False
            try:
                attempt = 0
                while True:
                    if time.time() >= row["expires_at"]:
                        report(actions.SendFailed(row, "expired", actions.QUEUE_EXPIRED))
                        return
                    if not self.limiter.try_acquire():
                        await self.limiter.acquire()
                    validity = relative_validity(int(row["expires_at"] - time.time()))
                    outcome = await self.link.submit(submit_for(parts[seq - 1], row["sender"], row["destination"],
                                                                validity))
                    if outcome.kind == "accepted":
                        done.add(seq)
                        report(actions.PartsAccepted(row, ((seq, outcome.message_id or ""),), len(done) == len(parts)),
                               self.unrecorded.release)
                        if self.unrecorded.locked():  # senders wait for a slot: record what there is now
                            self.worker.flush_soon()
                        handed_over = True
                        break
                    if outcome.kind == "rejected":
                        code = actions.SMSC_ERRORS.get(outcome.command_status, actions.SMSC_REJECTED)
                        log.warning("SMS %s: SMSC rejected %s part %d with status %#x", self.config.name,
                                    row["sid"], seq, outcome.command_status)
                        report(actions.SendFailed(row, "failed", code))
                        return
                    attempt += 1
                    if outcome.kind == "retry":  # throttled or queue full: slow the whole bind down
                        delay = min(0.2 * 2 ** min(attempt, 8), 30.0)
                        self.limiter.pause(delay)
                        await asyncio.sleep(delay)
                    else:  # unanswered: the session dropped (or timed out); send again once bound
                        await asyncio.sleep(min(0.05 * attempt, 2.0))
                        await self.link.connected.wait()
            finally:
                if not handed_over:
                    self.unrecorded.release()


class SmsWorker:
    def __init__(self, db: Database, config: SmsConfig,
                 link_factory: Callable[..., SmppLink] = SmppLink) -> None:
        self.db = db
        self.config = config
        self._link_factory = link_factory
        self.links: dict[str, SmppLink] = {}
        self.dispatchers: dict[str, Dispatcher] = {}
        self._tasks: list[asyncio.Task[Any]] = []
        self._results: list[tuple[actions.Result, Callable[[], None] | None]] = []
        self._results_ready = asyncio.Event()
        self._results_full = asyncio.Event()
        self._flush_now = False
        self._flush_at = max(1, min((c.max_unrecorded // 2 for c in config.connections), default=1))
        self._backlog = True  # early receipts may wait in sms_receipt_backlog (from before a restart, too)
        self._backlog_tried = 0.0
        self._outbox_wake = asyncio.Event()
        self._inbound: asyncio.Queue[tuple[str, InboundSm, Delivery]] = asyncio.Queue()
        self._settle: list[int] = []  # sms_inbound_seen rows whose acknowledgement the SMSC has read
        self._enqueue_lock = asyncio.Lock()  # keeps queue-row ids in commit order (see Dispatcher.high_water)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped = False

    # -- lifecycle -----------------------------------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.db.add_commit_listener(self._on_commit)
        for connection in self.config.connections:
            link = self._link_factory(connection, self._inbound_callback(connection.name), self._settle.extend)
            self.links[connection.name] = link
            dispatcher = Dispatcher(self, connection, link)
            self.dispatchers[connection.name] = dispatcher
            self._tasks.append(asyncio.create_task(link.run()))
            self._tasks.extend(dispatcher.tasks())
        self._tasks.append(asyncio.create_task(self._feed()))
        self._tasks.append(asyncio.create_task(self._receive()))
        self._flusher = asyncio.create_task(self._flush())

    async def stop(self) -> None:
        self._stopped = True
        for task in self._tasks:
            task.cancel()
        _, pending = await asyncio.wait(self._tasks, timeout=5.0)
        for task in pending:
            log.warning("SMS: task %s did not stop", task.get_coro())
            for line in task.get_stack(limit=5):
                log.warning("  %s", line)
        self._results_ready.set()
        self._flusher.cancel()
        await asyncio.gather(self._flusher, return_exceptions=True)
        if self._results:  # what the SMSC already accepted must not be sent again after a restart
            batch, self._results = self._results, []
            try:
                await self.db.write(lambda c: actions.do_apply_results(c, [r for r, _ in batch]))
                self._done(batch)
            except Exception:
                log.exception("SMS: could not record the last SMSC answers")
        for link in self.links.values():
            await link.close()

    def _on_commit(self) -> None:  # on the writer thread
        loop = self._loop
        # read across threads: at worst one wake-up too many (the feeder clears the flag before it reads)
        if loop is not None and not self._stopped and not self._outbox_wake.is_set():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._outbox_wake.set)

    def _inbound_callback(self, name: str) -> Callable[[InboundSm, Delivery], None]:
        def callback(sm: InboundSm, delivery: Delivery) -> None:
            self._inbound.put_nowait((name, sm, delivery))
        return callback

    def report(self, result: actions.Result, on_recorded: Callable[[], None] | None = None) -> None:
        """Queue a result for the flusher; `on_recorded` runs once it is committed."""
        self._results.append((result, on_recorded))
        self._results_ready.set()
        if len(self._results) >= self._flush_at:
            self._results_full.set()

    def flush_soon(self) -> None:
        """Write the results gathered so far without waiting for more."""
        self._flush_now = True
        self._results_full.set()

    def _wake_dispatchers(self, names: set[str]) -> None:
        for name in names:
            dispatcher = self.dispatchers.get(name)
            if dispatcher is not None:
                dispatcher.wake.set()

    # -- outbox → queue ------------------------------------------------------------------------------
    async def _feed(self) -> None:
        position: int | None = None
        last_purge = last_seen_purge = 0.0
        while True:
            self._outbox_wake.clear()  # a commit from now on calls for another pass
            try:
                pending = await self.db.read(lambda c, position=position: actions.outbox_pending(c, position))
                if pending:
                    async with self._enqueue_lock:
                        result, position = await self.db.write(
                            lambda c: actions.do_enqueue_from_outbox(c, self.config))
                    self._wake_dispatchers(result.connections)
                    if result.more:
                        if result.gap:
                            await asyncio.sleep(0.1)
                        continue
                if self._settle:  # acknowledgements the SMSC read, when no inbound SMS took them along
                    settle, self._settle = self._settle, []
                    try:
                        await self.db.write(lambda c, settle=settle: actions.do_settle_inbound(c, settle))
                    except BaseException:
                        self._settle.extend(settle)
                        raise
                if time.monotonic() - last_seen_purge > 60:
                    last_seen_purge = time.monotonic()
                    now = int(time.time())
                    for name, link in self.links.items():
                        if link.connected.is_set():
                            await self.db.write(lambda c, name=name, s=link.session, b=int(link.bound_at), now=now:
                                                actions.purge_inbound_seen(c, name, s, b, now))
                if time.monotonic() - last_purge > 3600:
                    last_purge = time.monotonic()
                    cutoff = int(time.time()) - STALE_PARTS
                    await self.db.write(lambda c, cutoff=cutoff: actions.purge_stale_parts(c, cutoff))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("SMS: queueing new messages failed")
                await asyncio.sleep(1.0)
            # Every commit wakes the feeder, most of them the flusher's (their onDeliveryUpdated events queue
            # nothing): under load one pass per FEED_PAUSE is enough.
            await asyncio.sleep(FEED_PAUSE)
            await wait_event(self._outbox_wake, 1.0)

    # -- inbound -------------------------------------------------------------------------------------
    async def _receive(self) -> None:
        while True:
            name, sm, delivery = await self._inbound.get()
            try:
                if is_receipt(sm):
                    dlr = parse_receipt(sm)
                    if dlr is None:
                        log.warning("SMS %s: unreadable delivery receipt from %s", name, sm.source)
                        delivery.ack()  # nothing to keep: asking again would not make it readable
                    elif dlr.final:  # acknowledged by the flusher once written
                        self.report(actions.ReceiptReport(name, dlr.message_id, dlr.stat, dlr.err, delivery))
                    else:
                        delivery.ack()  # ENROUTE / ACCEPTD change nothing
                    continue
                await self._store_inbound(name, sm, delivery)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("SMS %s: handling an inbound SMS from %s failed", name, sm.source)
                delivery.nack()

    async def _store_inbound(self, name: str, sm: InboundSm, delivery: Delivery) -> None:
        part = inbound_part(sm)
        key = fingerprint(sm)
        settle, self._settle = self._settle, []
        for attempt in range(INBOUND_ATTEMPTS):
            try:
                async with self._enqueue_lock:
                    received = await self.db.write(lambda c: actions.do_receive(
                        c, self.config, name, part, fingerprint=key, session=delivery.session, settle=settle))
                break
            except asyncio.CancelledError:
                self._settle.extend(settle)
                raise
            except Exception:
                if attempt == INBOUND_ATTEMPTS - 1:
                    self._settle.extend(settle)
                    log.exception("SMS %s: could not store an inbound SMS from %s; the SMSC is asked to deliver it "
                                  "again later", name, sm.source)
                    delivery.nack()
                    return
                log.warning("SMS %s: storing an inbound SMS from %s failed; retrying", name, sm.source,
                            exc_info=True)
                await asyncio.sleep(0.5 * 2 ** attempt)
        delivery.ack(received.seen_id)  # only now: the SMS (or its part) is committed
        self._wake_dispatchers(received.connections)

    # -- results -------------------------------------------------------------------------------------
    @staticmethod
    def _done(batch: list[tuple[actions.Result, Callable[[], None] | None]]) -> None:
        for result, on_recorded in batch:
            if on_recorded is not None:
                on_recorded()
            if isinstance(result, actions.ReceiptReport) and result.delivery is not None:
                result.delivery.ack()

    async def _flush(self) -> None:
        while True:
            if self._backlog:
                await wait_event(self._results_ready, BACKLOG_RETRY)
            else:
                await self._results_ready.wait()
            self._results_ready.clear()
            while True:
                if 0 < len(self._results) < self._flush_at and not self._flush_now:
                    self._results_full.clear()
                    await wait_event(self._results_full, FLUSH_DELAY)
                self._flush_now = False
                batch, self._results = self._results[:RESULT_BATCH], self._results[RESULT_BATCH:]
                retry = self._backlog and time.monotonic() - self._backlog_tried >= BACKLOG_RETRY
                if not batch and not retry:
                    break
                try:
                    results = [r for r, _ in batch]
                    waiting = await self.db.write(lambda c, results=results, retry=retry: actions.do_apply_results(
                        c, results, retry_backlog=retry))
                except asyncio.CancelledError:
                    self._results[:0] = batch
                    raise
                except Exception:
                    log.exception("SMS: recording SMSC answers failed; retrying")
                    self._results[:0] = batch
                    await asyncio.sleep(1.0)
                    continue
                if retry:
                    self._backlog_tried = time.monotonic()
                if waiting is not None:
                    self._backlog = waiting > 0
                self._done(batch)
