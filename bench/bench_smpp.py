"""SMS channel benchmark: segments computed per second, and SMPP submit_sm per second over one bind (window 10)
through Hubbub's durable queue with receipts in the path, against the bare SMPP library as the ceiling.

    .venv/bin/python bench/bench_smpp.py [--messages 2000] [--participants 10] [--seconds 5] [--max-unrecorded 100]
        [--no-dlr]

1. Segments: `segments_for` over a mix of realistic bodies (short and long GSM-7, smart-encoded
   punctuation, UCS-2 with emoji) for `--seconds`.
2. The SMSC: `hubbub smsc-sim --quiet --dlr none` in its own process (the pure-Python local SMSC).
3. Bare library: one transceiver bind straight to that SMSC, 10 submit_sm in flight, for `--seconds`; also
   the client process's CPU time per submit_sm.
4. Hubbub: a fresh SQLite database (synchronous=FULL); `--messages` messages are posted (through the
   message-create action) to a conversation with `--participants` SMS participants, so that each message
   means that many receipts and SMS. Then the SMS worker starts with one connection, window 10, no rate
   limit, `max_unrecorded` as given, and the clock runs until the queue is empty: reading the outbox, writing
   the queue rows, submit_sm / submit_sm_resp through the adapter's relay, and committing the SMSC ids and
   receipt statuses (with their onDeliveryUpdated events) are all inside the measured time. The webhook
   configuration is cached as in `hubbub serve`. Progress is polled through the queue index (the first
   queued row: a COUNT every 50 ms would itself take a good share of the CPU). Also printed: the process's
   CPU time (all threads, user + system) per SMS — steadier than the rate on a shared machine.
5. Hubbub with delivery receipts (skip with `--no-dlr`): the same against a second simulator that answers
   every SMS with a DELIVRD receipt 0.5 s later; the clock runs until every receipt is applied (each
   conversation receipt `delivered`, with its onDeliveryUpdated event). Not part of the issue's target.

Target (issue 5), 2-core machine: >= 2,000 submit_sm/s through Hubbub, and >= 25% of the bare rate.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert, select  # noqa: E402

from hubbub.actions.accounts import do_ensure_account  # noqa: E402
from hubbub.actions.common import Scope  # noqa: E402
from hubbub.actions.conversations import ConversationFields, do_create_conversation  # noqa: E402
from hubbub.actions.messages import MessageFields, do_create_message  # noqa: E402
from hubbub.actions.participants import Binding, ParticipantFields, do_create_participant  # noqa: E402
from hubbub.app import open_database  # noqa: E402
from hubbub.channels.sms.config import parse  # noqa: E402
from hubbub.channels.sms.smpp import bare_submit_benchmark  # noqa: E402
from hubbub.channels.sms.worker import SmsWorker  # noqa: E402
from hubbub.domain.sms_encoding import segments_for  # noqa: E402
from hubbub.settings import Settings  # noqa: E402
from hubbub.store.schema import events, receipts  # noqa: E402
from hubbub.store.schema_sms import sms_cursor, sms_outbound  # noqa: E402
from hubbub.webhooks.targets import CACHE  # noqa: E402

ACCOUNT = "AC" + "be" * 16
OUR_NUMBER = "+15005550006"
# Receipts come this long after the submit_sm (carriers take seconds; one sooner than the commit of its
# submit_sm_resp waits in the receipt backlog, retried every second)
DLR_DELAY = "0.5"
BODIES = [
    "Your code is 482913",
    "Hi Anna, your table for 4 is booked for 7:30pm tonight. Reply C to cancel.",
    "“Smart” quotes – and dashes… are replaced so this stays GSM-7, isn’t it?",
    "Grüße aus München! Wir sehen uns um 18 Uhr am Marienplatz. 😀",
    "Привет! Ваш заказ №1234 отправлен и будет доставлен завтра.",
    ("This is a longer message that will need more than one segment because it goes on and on about the "
     "weather, the traffic, the meeting at ten and the lunch order [pizza] {extra cheese} for everyone. ") * 2,
]


def bench_segments(seconds: float) -> float:
    count = 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        for body in BODIES:
            segments_for(body)
        count += len(BODIES)
    return count / seconds


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_smsc(port: int, dlr: str = "none") -> subprocess.Popen[bytes]:
    process = subprocess.Popen([sys.executable, "-m", "hubbub", "smsc-sim", "--port", str(port), "--http-port", "0",
                                "--no-stdin", "--quiet", "--dlr", dlr, "--dlr-delay", DLR_DELAY], cwd=ROOT)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("the SMSC simulator did not start")


async def bench_hubbub(port: int, messages: int, participants: int, db_dir: Path, max_unrecorded: int = 100,
                       dlr: bool = False) -> tuple[float, int, float]:
    """(SMS/s, SMS done, CPU seconds per SMS). With `dlr` the SMSC answers every SMS with a delivery receipt
    and the clock runs until every receipt is applied (receipt statuses `delivered`)."""
    db = open_database(Settings(database_url=f"sqlite:///{db_dir / 'bench.db'}"))
    # `hubbub serve` caches the webhook configuration read for each event (its PreWebhooks does this at start);
    # without it every onDeliveryUpdated would look the account, service and conversation up again
    CACHE.watch(db.write_engine, db.add_commit_listener)
    db.run_sync_write(lambda conn: do_ensure_account(conn, ACCOUNT, "bench-token-0123456789"))
    scope = Scope(ACCOUNT)

    def setup(conn: object) -> str:
        conversation = do_create_conversation(conn, scope, ConversationFields())  # type: ignore[arg-type]
        for i in range(participants):
            phone = f"+1555{2000000 + i:07d}"
            do_create_participant(conn, scope, conversation["sid"],  # type: ignore[arg-type]
                                  ParticipantFields(address=phone, proxy_address=OUR_NUMBER),
                                  Binding("sms", phone, OUR_NUMBER, None))
        position = conn.execute(select(func.coalesce(func.max(events.c.id), 0))).scalar_one()  # type: ignore[attr-defined]
        conn.execute(insert(sms_cursor).values(name="outbox", position=position))  # type: ignore[attr-defined]
        return str(conversation["sid"])

    conversation_sid = db.run_sync_write(setup)
    db.start()
    fields = [MessageFields(author="agent", body=BODIES[i % 3]) for i in range(messages)]
    await asyncio.gather(*(db.write(lambda conn, f=f: do_create_message(conn, scope, conversation_sid, f))
                           for f in fields))
    total = messages * participants
    config = parse({"connections": [{"name": "bench", "numbers": ["+1500555*"], "host": "127.0.0.1", "port": port,
                                     "system_id": "hubbub", "password": "secret", "window": 10,
                                     "max_unrecorded": max_unrecorded}]})
    worker = SmsWorker(db, config)
    started = time.perf_counter()
    cpu_started = time.process_time()
    await worker.start()

    def progress(conn: object) -> tuple[int, bool]:
        # max(id) and the first queued row by the queue index (connection, state, id) make this cheap; a COUNT
        # (of receipts, or even of queued rows) every 50 ms would take a good part of the measured CPU
        top = conn.execute(select(func.coalesce(func.max(sms_outbound.c.id), 0))).scalar_one()  # type: ignore[attr-defined]
        waiting = conn.execute(select(sms_outbound.c.id).where(  # type: ignore[attr-defined]
            sms_outbound.c.connection == "bench", sms_outbound.c.state.in_(unfinished)).limit(1)).first()
        return int(top), waiting is not None

    unfinished = ("queued", "sent") if dlr else ("queued",)

    def sent(conn: object) -> int:
        return int(conn.execute(select(func.count()).select_from(receipts)  # type: ignore[attr-defined]
                                .where(receipts.c.status == ("delivered" if dlr else "sent"))).scalar_one())

    while time.perf_counter() - started < 300:
        await asyncio.sleep(0.05)
        top, waiting = await db.read(progress)
        if top >= total and not waiting:
            break
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    await worker.stop()
    done = await db.read(sent)
    db.close()
    return done / elapsed, done, cpu / max(done, 1)


def _run(coro: Any) -> Any:
    """Run on the event loop `hubbub serve` runs the SMS worker on: uvicorn's "auto" picks uvloop when it is
    installed (it is a dependency), so both the bare library and Hubbub are measured on it."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coro)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--participants", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--max-unrecorded", type=int, default=100,
                        help="the connection's max_unrecorded (parts accepted but not yet committed)")
    parser.add_argument("--no-dlr", dest="dlr", action="store_false",
                        help="skip the run with a delivery receipt for every SMS")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    segments_rate = bench_segments(min(args.seconds, 3.0))
    print(f"segments:      {segments_rate:10,.0f} bodies/s (segments_for, smart encoding on, {len(BODIES)} bodies)",
          flush=True)
    port = free_port()
    smsc = start_smsc(port)
    try:
        cpu_started = time.process_time()
        bare = _run(bare_submit_benchmark("127.0.0.1", port, args.seconds, 10))
        bare_cpu = (time.process_time() - cpu_started) / max(bare, 1)
        bare_rate = bare / args.seconds
        print(f"bare library:  {bare_rate:10,.0f} submit_sm/s (smpp34 client, one bind, window 10); "
              f"client CPU {bare_cpu * 1e6:5.0f} µs per submit_sm", flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            rate, done, cpu = _run(bench_hubbub(port, args.messages, args.participants, Path(tmp),
                                                args.max_unrecorded))
        print(f"hubbub:        {rate:10,.0f} submit_sm/s ({done} SMS through the durable queue and receipts, "
              f"SQLite synchronous=FULL, one bind, window 10, max_unrecorded {args.max_unrecorded}); "
              f"CPU {cpu * 1e6:5.0f} µs per SMS", flush=True)
        ratio = rate / bare_rate if bare_rate else 0.0
        print(f"ratio:         {ratio:10.0%} of the bare library")
        complete = done == args.messages * args.participants
        if args.dlr:
            # a second simulator, answering every SMS with DELIVRD at once (the bare client above reads no
            # deliver_sm, so it cannot share one that sends receipts)
            dlr_port = free_port()
            dlr_smsc = start_smsc(dlr_port, "DELIVRD")
            try:
                with tempfile.TemporaryDirectory() as tmp:
                    dlr_rate, dlr_done, dlr_cpu = _run(bench_hubbub(dlr_port, args.messages, args.participants,
                                                                    Path(tmp), args.max_unrecorded, dlr=True))
            finally:
                dlr_smsc.terminate()
                dlr_smsc.wait(10)
            print(f"hubbub + DLRs: {dlr_rate:10,.0f} submit_sm/s ({dlr_done} SMS, each with its delivery receipt "
                  f"applied: receipt status delivered, onDeliveryUpdated); CPU {dlr_cpu * 1e6:5.0f} µs per SMS",
                  flush=True)
            complete = complete and dlr_done == args.messages * args.participants
        ok = rate >= 2000 and ratio >= 0.25
        print(f"target (>= 2,000/s and >= 25% of bare, without DLRs): {'met' if ok else 'NOT met'}")
        return 0 if complete else 1
    finally:
        smsc.terminate()
        smsc.wait(10)


if __name__ == "__main__":
    raise SystemExit(main())
