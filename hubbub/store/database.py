"""Where SQL runs: one writer with group commit, and a pool of readers.

Every write is a plain function of a SQLAlchemy `Connection` (an action's `do_*` step). `Database.write`
queues it for the writer thread, which runs queued writes back to back in one transaction, each inside
its own SAVEPOINT so a failing write rolls back alone, then commits once and answers every caller.
The caller's coroutine resumes only after the commit, so an acknowledged write is on disk.

Why threads and the synchronous driver rather than an async driver: SQLite has a single writer anyway,
and the stdlib `sqlite3` driver on one dedicated connection is several times faster than aiosqlite's
per-statement thread hop (measured: see bench/README.md). One commit per batch amortises the fsync.
PostgreSQL uses the same code with psycopg on a few writer threads, one transaction per write
(batching there would let two batches lock the same rows in opposite orders) — except writes that name
a conversation (`write(fn, key=…)`, message creates): those go to one of a few shard writers chosen by
the key and are group-committed there like on SQLite. Concurrent creates in one conversation queue on
its row lock, so one transaction each would pay a commit flush per message; batched, a hot
conversation takes several times more, and two shards never batch the same conversation.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.pool import NullPool

log = logging.getLogger(__name__)
T = TypeVar("T")

WriteFn = Callable[[Connection], Any]


def sqlalchemy_url(url: str) -> str:
    """Map the user-facing URL (`sqlite:///…`, `postgresql://…`) to a driver-qualified one."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    if url.startswith("sqlite://"):
        return "sqlite+pysqlite://" + url.split("://", 1)[1]
    return url


def is_sqlite(url: str) -> bool:
    return sqlalchemy_url(url).startswith("sqlite")


@dataclass(slots=True)
class _Job:
    fn: WriteFn
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop


_STOP = object()

# Which attempt at a batch the calling writer thread is running, and whether the batch it committed last
# committed every write it ran (no write failed, no savepoints): then whatever a write of that attempt
# recorded is in the database, without a query to find out (see webhooks.store.take_committed).
_attempt_ids = itertools.count(1)
_writer_state = threading.local()


def write_attempt() -> int | None:
    """The current batch attempt of this writer thread (None outside a writer)."""
    return getattr(_writer_state, "attempt", None)


def cleanly_committed() -> int | None:
    """In a commit listener: the attempt that just committed, if every write in it succeeded."""
    return getattr(_writer_state, "clean", None)


class Database:
    def __init__(self, url: str, *, synchronous: str = "FULL", batch_max: int = 128,
                 readers: int = 4, pg_writers: int = 8, pg_shards: int = 4) -> None:
        self.url = sqlalchemy_url(url)
        self.sqlite = self.url.startswith("sqlite")
        self.batch_max = batch_max
        self._synchronous = synchronous
        shards = 0 if self.sqlite else pg_shards
        self.write_engine = self._make_engine(writer=True, pool_size=1 if self.sqlite else pg_writers + shards)
        self.read_engine = self._make_engine(writer=False, pool_size=readers)
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._writer_count = 1 if self.sqlite else pg_writers
        self._shards: list[queue.SimpleQueue[Any]] = [queue.SimpleQueue() for _ in range(shards)]
        self._writers: list[threading.Thread] = []
        self._readers = ThreadPoolExecutor(max_workers=readers, thread_name_prefix="hubbub-read")
        self._reader_local = threading.local()
        self._on_commit: list[Callable[[], None]] = []

    # -- engines -----------------------------------------------------------------------------------
    def _make_engine(self, *, writer: bool, pool_size: int) -> Engine:
        if not self.sqlite:
            return create_engine(self.url, pool_size=pool_size, max_overflow=0, pool_pre_ping=True)
        engine = create_engine(self.url, poolclass=NullPool, connect_args={"check_same_thread": False})
        synchronous = self._synchronous

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy, not the driver, decide where transactions start (pysqlite's own
            # implicit BEGIN breaks SAVEPOINTs).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA synchronous={synchronous}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=10000")
            cur.close()

        begin_sql = "BEGIN IMMEDIATE" if writer else "BEGIN"

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            conn.exec_driver_sql(begin_sql)

        return engine

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> None:
        # SQLite: the one writer batches. PostgreSQL: general writers run one write per transaction;
        # shard writers batch the keyed writes of their shard.
        loops = [(self._queue, self.batch_max if self.sqlite else 1)] * self._writer_count
        loops += [(shard, self.batch_max) for shard in self._shards]
        for n, (jobs, batch_max) in enumerate(loops):
            thread = threading.Thread(target=self._writer_loop, args=(jobs, batch_max),
                                      name=f"hubbub-writer-{n}", daemon=True)
            thread.start()
            self._writers.append(thread)

    def close(self) -> None:
        for _ in range(self._writer_count):
            self._queue.put(_STOP)
        for shard in self._shards:
            shard.put(_STOP)
        for thread in self._writers:
            thread.join(timeout=30)
        self._writers.clear()
        self._readers.shutdown(wait=True)
        self.write_engine.dispose()
        self.read_engine.dispose()

    def add_commit_listener(self, callback: Callable[[], None]) -> None:
        """`callback` runs on the writer thread after every commit (e.g. to wake event consumers)."""
        self._on_commit.append(callback)

    # -- API ---------------------------------------------------------------------------------------
    async def write(self, fn: Callable[[Connection], T], key: str | None = None) -> T:
        """Run `fn` in a write transaction; answers after the commit.

        `key` names the one conversation whose row the write locks first (message creates); on
        PostgreSQL, writes with the same key are group-committed by the same shard writer.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        jobs = self._queue if key is None or not self._shards else self._shards[hash(key) % len(self._shards)]
        jobs.put(_Job(fn, future, loop))
        return await future

    async def read(self, fn: Callable[[Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, self._run_read, fn)

    def run_sync_write(self, fn: Callable[[Connection], T]) -> T:
        """For the CLI and start-up, outside the event loop."""
        with self.write_engine.connect() as conn, conn.begin():
            return fn(conn)

    def _run_read(self, fn: Callable[[Connection], T]) -> T:
        conn: Connection | None = getattr(self._reader_local, "conn", None)
        if conn is None or conn.closed:
            conn = self.read_engine.connect()
            self._reader_local.conn = conn
        try:
            with conn.begin():
                return fn(conn)
        except DBAPIError as exc:
            if exc.connection_invalidated:
                self._reader_local.conn = None
            raise

    # -- the writer --------------------------------------------------------------------------------
    def _writer_loop(self, jobs: queue.SimpleQueue[Any], batch_max: int) -> None:
        conn = self.write_engine.connect()
        try:
            while True:
                first = jobs.get()
                if first is _STOP:
                    return
                batch: list[_Job] = [first]
                stop_after = False
                while len(batch) < batch_max:
                    try:
                        job = jobs.get_nowait()
                    except queue.Empty:
                        break
                    if job is _STOP:
                        stop_after = True
                        break
                    batch.append(job)
                conn = self._run_batch(conn, batch)
                if stop_after:
                    return
        finally:
            conn.close()

    def _run_batch(self, conn: Connection, batch: list[_Job]) -> Connection:
        outcomes: list[tuple[bool, Any]] = []
        isolate = False  # SAVEPOINT per write: only after a write of this batch has failed
        _writer_state.clean = None
        for attempt in range(4):
            outcomes = []
            _writer_state.attempt = next(_attempt_ids)
            try:
                with conn.begin():
                    for job in batch:
                        outcomes.append(self._run_one(conn, job, savepoint=isolate))
                    if not isolate and not all(ok for ok, _ in outcomes):
                        # A failed write may have left changes behind. Writes are pure functions of
                        # the connection, so roll the batch back and run it again, each write inside
                        # its own SAVEPOINT (paying for savepoints only when something failed).
                        raise _Rollback
                if not isolate:
                    _writer_state.clean = _writer_state.attempt
                break
            except _Rollback:
                if len(batch) == 1:
                    break
                isolate = True
            except OperationalError as exc:
                # Deadlocks / serialization failures (PostgreSQL) and a locked file (SQLite) are retried.
                log.warning("write batch failed (attempt %d): %s", attempt + 1, exc)
                outcomes = [(False, exc)] * len(batch)
                if conn.invalidated or conn.closed:
                    conn = self.write_engine.connect()
            except Exception as exc:  # the commit itself failed
                log.exception("write batch failed")
                outcomes = [(False, exc)] * len(batch)
                break
        committed = any(ok for ok, _ in outcomes)
        if committed:
            for callback in self._on_commit:
                try:
                    callback()
                except Exception:
                    log.exception("commit listener failed")
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[_Job, bool, Any]]] = {}
        for job, (ok, value) in zip(batch, outcomes, strict=True):
            by_loop.setdefault(job.loop, []).append((job, ok, value))
        for loop, items in by_loop.items():
            try:
                loop.call_soon_threadsafe(_resolve, items)
            except RuntimeError:  # loop closed during shutdown
                pass
        return conn

    @staticmethod
    def _run_one(conn: Connection, job: _Job, *, savepoint: bool) -> tuple[bool, Any]:
        """Run one write; with `savepoint`, a failure rolls back this write alone, not its neighbours.

        The SAVEPOINT statements go straight to the driver: SQLAlchemy's nested-transaction objects
        cost more than the statements themselves on this path.
        """
        if not savepoint:
            try:
                return True, job.fn(conn)
            except OperationalError:
                raise
            except BaseException as exc:  # noqa: BLE001 - handed to the awaiting caller
                return False, exc
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute("SAVEPOINT hubbub_write")
            try:
                value = job.fn(conn)
            except OperationalError:
                cursor.execute("ROLLBACK TO SAVEPOINT hubbub_write")
                raise
            except BaseException as exc:  # noqa: BLE001
                cursor.execute("ROLLBACK TO SAVEPOINT hubbub_write")
                cursor.execute("RELEASE SAVEPOINT hubbub_write")
                return False, exc
            cursor.execute("RELEASE SAVEPOINT hubbub_write")
            return True, value
        finally:
            cursor.close()


class _Rollback(Exception):
    pass


def _resolve(items: list[tuple[_Job, bool, Any]]) -> None:
    for job, ok, value in items:
        if job.future.done():
            continue
        if ok:
            job.future.set_result(value)
        else:
            job.future.set_exception(value)
