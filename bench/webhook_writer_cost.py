"""What a post-action webhook delivery costs the database writer: message creates in-process (no HTTP, no
sender), with webhooks off and on, as CPU per create of this process pinned to one core.

    taskset -c 0 .venv/bin/python bench/webhook_writer_cost.py [--creates 10000] [--conversations 20]
        [--modes off,on,off,on] [--breakdown] [--sql "DROP INDEX …; …"]

"on": every create records one delivery to an account-level webhook (as claimed by a dispatcher of this
process), the commit listener takes the fresh deliveries as the dispatcher does, and every 50 ms their
outcomes are written back as delivered (`store.complete`, the outcome UPDATE and the attempt row) — what the
server's writer thread does per delivery, without the event loop and the sender process. `--breakdown`
adds each step's share (thread CPU time around the functions; the wrappers add ~0.3 µs each). `--sql` runs
statements after the migrations (e.g. to see what an index costs). 32 concurrent writers, like
bench_webhooks.py's wrk connections; a fresh SQLite file (synchronous=FULL) per run.

This is the tool behind the per-step figures in bench/README.md ("bench_webhooks.py → Figures"); the
issue's figures come from bench_webhooks.py.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hubbub.actions import messages as message_actions  # noqa: E402
from hubbub.actions import webhook_configuration  # noqa: E402
from hubbub.actions.accounts import do_ensure_account  # noqa: E402
from hubbub.actions.common import Scope  # noqa: E402
from hubbub.actions.conversations import ConversationFields, do_create_conversation  # noqa: E402
from hubbub.actions.messages import MessageFields  # noqa: E402
from hubbub.actions.participants import Binding, ParticipantFields, do_create_participant  # noqa: E402
from hubbub.app import open_database  # noqa: E402
from hubbub.settings import Settings  # noqa: E402
from hubbub.store import database as database_module  # noqa: E402
from hubbub.webhooks import store, targets  # noqa: E402

ACCOUNT = "AC" + "be" * 16
SPENT: dict[str, int] = {}  # step → thread CPU ns


def _timed(owner: Any, name: str) -> None:
    fn = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.thread_time_ns()
        try:
            return fn(*args, **kwargs)
        finally:
            SPENT[name] = SPENT.get(name, 0) + time.thread_time_ns() - started

    setattr(owner, name, wrapper)


async def run(args: argparse.Namespace) -> None:
    workdir = tempfile.mkdtemp(prefix="hubbub-whcost-")
    db = open_database(Settings(database_url=f"sqlite:///{workdir}/bench.db"))
    db.run_sync_write(lambda c: do_ensure_account(c, ACCOUNT, "bench-token-0123456789"))
    setup_scope = Scope(ACCOUNT)

    def setup(conn: Any) -> list[str]:
        sids = []
        for _ in range(args.conversations):
            conv = do_create_conversation(conn, setup_scope, ConversationFields())
            do_create_participant(conn, setup_scope, conv["sid"], ParticipantFields(identity="alice"),
                                  Binding(None, None, None, None))
            sids.append(conv["sid"])
        webhook_configuration.do_update_account_webhooks(conn, setup_scope, {
            "post_webhook_url": "http://127.0.0.1:9/hook", "filters": ["onMessageAdded"], "method": "POST"})
        return sids

    conversations = db.run_sync_write(setup)
    for statement in (args.sql or "").split(";"):
        if statement.strip():
            db.run_sync_write(lambda c, s=statement: c.exec_driver_sql(s))
    targets.CACHE.watch(db.write_engine, db.add_commit_listener)
    store.OWNER.me = "bench"
    fresh: list[store.Delivery] = []
    db.add_commit_listener(lambda: fresh.extend(store.take_committed("bench")[1]))
    db.start()
    try:
        for mode in args.modes.split(","):
            rate, cpu = await one_mode(db, conversations, fresh, mode == "on", args.creates)
            line = f"{mode:>3}: {rate:9,.0f} creates/s  {cpu * 1e6:6.1f} µs CPU per create"
            if SPENT:
                line += "   " + "  ".join(f"{k} {v / args.creates / 1000:.1f}" for k, v in SPENT.items())
                SPENT.clear()
            print(line, flush=True)
    finally:
        db.close()


async def one_mode(db: Any, conversations: list[str], fresh: list[store.Delivery], webhooks: bool,
                   creates: int) -> tuple[float, float]:
    """(creates/s, CPU seconds per create) of `creates` message creates by 32 concurrent writers."""
    scope = Scope(ACCOUNT, webhook_enabled=webhooks)
    fields = MessageFields(author="alice", body="Hello world from the benchmark", attributes='{"k":1}')
    count = 0
    stopping = asyncio.Event()

    async def outcomes() -> None:
        while not stopping.is_set() or fresh:
            await asyncio.sleep(0.05)
            batch = fresh[:]
            del fresh[:]
            if batch:
                now = store.wall_ms()
                done = [store.Outcome(d, True, 200, None, 1000, now) for d in batch]
                await db.write(lambda c, done=done: store.complete(c, done, me="bench", schedule=[10.0]))

    async def writer() -> None:
        nonlocal count
        while count < creates:
            count += 1
            conv = conversations[count % len(conversations)]
            await db.write(lambda c, conv=conv: message_actions.do_create_message(c, scope, conv, fields), key=conv)

    recorder = asyncio.create_task(outcomes())
    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(writer() for _ in range(32)))
    stopping.set()
    await recorder
    return creates / (time.perf_counter() - wall), (time.process_time() - cpu) / creates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--creates", type=int, default=10_000, help="message creates per mode")
    parser.add_argument("--conversations", type=int, default=20)
    parser.add_argument("--modes", default="off,on,off,on")
    parser.add_argument("--breakdown", action="store_true", help="µs per create of each step")
    parser.add_argument("--sql", help="statements to run after the migrations, separated by ;")
    args = parser.parse_args()
    if args.breakdown:
        for owner, name in ((store, "record_deliveries"), (store, "complete"), (store, "take_committed"),
                            (store, "_rows"), (store, "post_targets"), (store, "messaging_service_of"),
                            (message_actions, "do_create_message"),
                            (database_module.Database, "_run_batch")):
            _timed(owner, name)
    os.environ.setdefault("HUBBUB_LOG_LEVEL", "warning")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
