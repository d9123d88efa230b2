"""The webhook sender process: post-action requests go out from a child of the server, not from the
process that serves the API.

Why: a delivery cost the API's process 0.3–0.5 ms of CPU, so with webhooks on the server created messages
at half the rate (bench/README.md). The part that needs no database — form encoding, signing, the HTTP
client, the kernel's TCP work for the request and its answer, 0.1–0.15 ms — now runs here, on whatever
core the kernel (or HUBBUB_WEBHOOK_SENDER_CPUS) gives this process. The server process keeps everything
that touches the database (recording deliveries in the change's transaction, confirming, claiming, retry
times, writing outcomes in batches, the test clock); the child only sends.

`SenderProcess` (used by `Dispatcher`, parent side) starts `python -m hubbub.webhooks.sender` with one
end of a socket pair and restarts it when it dies. Messages are lines of JSON:

- server → sender: `[[id, method, url, params, auth_token, idempotency_token, attempts, lane], …]` —
  deliveries to send; `lane` (conversation + URL, or null) keeps a conversation's first attempts to one
  URL in the order they were shipped (`sending.Lanes`). `"stop"`: finish what is in flight, answer, exit.
- sender → server: `[[id, status_code, error, latency_us, started_epoch_ms], …]` — outcomes (error null =
  delivered), written as attempts complete; `"stopped"` last after a "stop".

Crashes: the server holds every shipped delivery until its outcome arrives; if the sender dies, the new
one gets all of them again, in the original order (at least once: a request the dead sender had already
made is made again, with the same `I-Twilio-Idempotency-Token`). If the server dies, the sender sees the
socket close and exits at once; the deliveries are still claimed in the database and go out after the
server restarts. The sender ignores SIGINT (a terminal's Ctrl-C reaches the whole process group: the
server stops it in order) and treats SIGTERM like "stop".
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import orjson

log = logging.getLogger(__name__)

READ_LIMIT = 64 * 1024 * 1024  # longest line either side accepts (a batch of 500 deliveries is ~1 MB)
DRAIN_GRACE = 2.0
REPORT_DELAY = 0.002  # outcomes wait this long to go back together: fewer lines for the server to read
STOP_TIMEOUT = DRAIN_GRACE + 5.0
MODULE = "hubbub.webhooks.sender"


def parse_cpus(text: str) -> set[int]:
    """`0`, `1,3`, `2-3` → a CPU set for `os.sched_setaffinity`."""
    cpus: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        low, _, high = part.partition("-")
        if not low.isdigit() or not (high or low).isdigit():
            raise ValueError(f"HUBBUB_WEBHOOK_SENDER_CPUS: '{text}' is not a CPU list (e.g. 1, 2-3, 0,2)")
        cpus.update(range(int(low), int(high or low) + 1))
    if not cpus:
        raise ValueError(f"HUBBUB_WEBHOOK_SENDER_CPUS: '{text}' names no CPU")
    return cpus


# -- the server's side ---------------------------------------------------------------------------------------

class SenderProcess:
    """Starts the sender child, hands it deliveries, passes its outcomes on, restarts it when it dies."""

    def __init__(self, *, timeout: float, concurrency: int, cpus: str | None,
                 on_outcomes: Callable[[list[list[Any]]], None], on_connected: Callable[[], None]) -> None:
        self._timeout = timeout
        self._concurrency = concurrency
        self._cpus = cpus
        self._on_outcomes = on_outcomes
        self._on_connected = on_connected
        self._writer: asyncio.StreamWriter | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._stop_requested = asyncio.Event()
        self.restarts = 0

    @property
    def connected(self) -> bool:
        return self._writer is not None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    def start(self) -> None:
        self._task = asyncio.create_task(self._supervise(), name="webhook-sender-process")

    def ship(self, jobs: list[list[Any]]) -> bool:
        """Send a batch to the child; False when there is no child right now (the caller keeps the jobs
        and ships them again from `on_connected`)."""
        writer = self._writer
        if writer is None or writer.is_closing():
            return False
        writer.write(orjson.dumps(jobs) + b"\n")
        return True

    async def stop(self) -> None:
        """Ask the child to finish what it has in flight (up to DRAIN_GRACE), collect the outcomes, end it."""
        self._stopping = True
        self._stop_requested.set()
        if self._writer is not None and not self._writer.is_closing():
            self._writer.write(b'"stop"\n')
        if self._task is None:
            return
        done, _ = await asyncio.wait({self._task}, timeout=STOP_TIMEOUT)
        if not done:
            if self._proc is not None and self._proc.poll() is None:
                self._proc.kill()
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _supervise(self) -> None:
        backoff = 0.1
        while not self._stopping:
            started = time.monotonic()
            try:
                code = await self._run_child()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("webhook sender process failed")
                code = None
            if self._stopping:
                return
            self.restarts += 1
            log.warning("webhook sender process ended (exit status %s); starting a new one", code)
            if time.monotonic() - started > 10:
                backoff = 0.1
            try:  # a child that dies at once (e.g. cannot start) is retried less and less often
                await asyncio.wait_for(self._stop_requested.wait(), timeout=backoff)
            except TimeoutError:
                pass
            backoff = min(backoff * 2, 5.0)

    async def _run_child(self) -> int | None:
        ours, theirs = socket.socketpair()
        cmd = [sys.executable, "-m", MODULE, "--fd", str(theirs.fileno()), "--timeout", repr(self._timeout),
               "--concurrency", str(self._concurrency)]
        if self._cpus:
            cmd += ["--cpus", self._cpus]
        try:
            # The standard library's Popen, not the event loop's subprocess support: uvloop runs Python
            # code (finalizers) in the forked child before exec, which deadlocked on a SQLite mutex held
            # by one of this process's threads at the moment of the fork. Popen's child runs no Python.
            proc = subprocess.Popen(cmd, pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL)
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        self._proc = proc
        reader, writer = await asyncio.open_connection(sock=ours, limit=READ_LIMIT)
        try:
            if self._stopping:
                writer.write(b'"stop"\n')
            else:
                self._writer = writer
                self._on_connected()
            while True:
                line = await reader.readline()
                if not line:
                    break
                message = orjson.loads(line)
                if message == "stopped":
                    break
                self._on_outcomes(message)
        except (ConnectionError, ValueError) as exc:  # a reset socket, a line cut short by a crash
            log.warning("webhook sender process: %s", exc)
        finally:
            self._writer = None
            writer.close()
        try:
            return await asyncio.to_thread(proc.wait, 5.0)
        except subprocess.TimeoutExpired:
            proc.kill()
            return await asyncio.to_thread(proc.wait)


# -- the child ----------------------------------------------------------------------------------------------

async def serve(sock: socket.socket, timeout: float, concurrency: int) -> None:
    from hubbub.webhooks.http import LeanSender
    from hubbub.webhooks.payloads import render_params
    from hubbub.webhooks.sending import Lanes, send_signed

    loop = asyncio.get_running_loop()
    reader, writer = await asyncio.open_connection(sock=sock, limit=READ_LIMIT)
    sender = LeanSender(concurrency)
    done: list[list[Any]] = []
    flush_scheduled = False

    def flush() -> None:
        nonlocal flush_scheduled
        flush_scheduled = False
        if done and not writer.is_closing():
            writer.write(orjson.dumps(done) + b"\n")
        done.clear()

    def report(outcome: list[Any]) -> None:
        nonlocal flush_scheduled
        done.append(outcome)
        if not flush_scheduled:  # one line for the outcomes of the next REPORT_DELAY
            flush_scheduled = True
            loop.call_later(REPORT_DELAY, flush)

    async def attempt(job: list[Any]) -> None:
        delivery_id, method, url, params, token, idempotency_token, attempts, _ = job
        started = int(time.time() * 1000)
        if isinstance(params, dict):  # rendered here, from the event, off the server's core
            try:
                pairs = render_params(params["render"])
            except Exception as exc:  # noqa: BLE001 - reported as this attempt's failure, like a bad answer
                report([delivery_id, None, f"the parameters could not be rendered: {exc!r}"[:500], 0, started])
                return
        else:
            pairs = [(name, value) for name, value in params]
        pairs.append(("RetryCount", str(attempts)))
        code, _, error, latency = await send_signed(sender, token, method, url, pairs, timeout,
                                                    {"I-Twilio-Idempotency-Token": idempotency_token})
        report([delivery_id, code, error, latency, started])

    lanes: Lanes[list[Any]] = Lanes(concurrency, attempt)

    async def receive() -> bool:
        """Submit what the server ships; True on "stop", False when the server is gone."""
        while True:
            try:
                line = await reader.readline()
            except ConnectionError:
                return False
            if not line:
                return False
            message = orjson.loads(line)
            if message == "stop":
                return True
            for job in message:
                lanes.submit(job, job[7])

    receiving = asyncio.create_task(receive())
    loop.add_signal_handler(signal.SIGTERM, receiving.cancel)
    try:
        server_alive = await receiving
    except asyncio.CancelledError:  # SIGTERM: stop as if the server had asked
        server_alive = True
    if not server_alive:
        # The server died: its deliveries are still claimed in the database and are sent after it
        # restarts; nobody would record what is in flight here.
        os._exit(0)
    await lanes.drain(DRAIN_GRACE)
    flush()
    try:
        writer.write(b'"stopped"\n')
        await writer.drain()
        writer.close()
    except ConnectionError:
        pass
    await sender.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m {MODULE}", description="Hubbub's webhook sender "
                                     "(started by `hubbub serve`, not by hand)")
    parser.add_argument("--fd", type=int, required=True, help="the socket shared with the server")
    parser.add_argument("--timeout", type=float, required=True)
    parser.add_argument("--concurrency", type=int, required=True)
    parser.add_argument("--cpus", help="CPUs to run on (HUBBUB_WEBHOOK_SENDER_CPUS)")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(level=(os.environ.get("HUBBUB_LOG_LEVEL") or "info").upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if args.cpus:
        try:
            os.sched_setaffinity(0, parse_cpus(args.cpus))
        except (ValueError, OSError) as exc:
            log.warning("webhook sender: cannot run on CPUs %s (%s); running where the server runs", args.cpus, exc)
    sock = socket.socket(fileno=args.fd)
    try:
        import uvloop
    except ImportError:  # uvicorn's optional speed-up; plain asyncio works too
        asyncio.run(serve(sock, args.timeout, args.concurrency))
    else:
        uvloop.run(serve(sock, args.timeout, args.concurrency))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
