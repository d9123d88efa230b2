"""Post-action webhook benchmark: deliveries per second and commit-to-arrival latency at a fast local
receiver while messages are created at a steady rate; and message-create throughput with webhooks on
versus off, in the same run.

    .venv/bin/python bench/bench_webhooks.py [--rate 1000] [--duration 10] [--conversations 20]
        [--throughput-duration 10] [--connections 32] [--postgres-url postgresql://…] [--no-pin]
        [--sender process|inline] [--sender-cpus 1]

1. A receiver (uvicorn + uvloop + httptools, a bare ASGI app that records the `MessageSid` and the arrival
   time of each request, answers 200 and checks a sample of signatures with twilio's RequestValidator)
   and `hubbub serve` on a fresh SQLite database (or PostgreSQL with --postgres-url). The server process
   (the API, its database writer and readers) is pinned to CPU 0; the receiver and the load generators to
   CPU 1; the server's webhook sender process (HUBBUB_WEBHOOK_SENDER=process, the default) to CPU 1 too,
   through HUBBUB_WEBHOOK_SENDER_CPUS=1 (`--sender-cpus`). `--sender inline` sends from the server
   process instead (all on CPU 0, as before the sender process existed).
2. The default service's post-action webhook points at the receiver for `onMessageAdded`.
3. Steady load: `--rate` message creates per second, open loop (request i is due at t0 + i/rate), round
   robin over `--conversations` conversations, each with `X-Twilio-Webhook-Enabled: true`, for
   `--duration` seconds. Then it waits until every delivery has arrived. Latency of a delivery is
   measured against the create request: "from request" = arrival − request sent (an upper bound of
   commit → arrival: it also contains the create itself), "from 201" = arrival − response received
   (a lower bound, negative when the webhook beat the HTTP response). Clocks: CLOCK_MONOTONIC, which
   is system-wide on Linux, so the two processes' timestamps compare.
4. Throughput: wrk, closed loop (`--connections`), the same create request without the header
   (webhooks off: nothing is queued) and with it (webhooks on: every create queues a delivery that is
   sent during the run), `--throughput-duration` seconds each; then the backlog is drained. Per run:
   the server process's CPU per create (all threads, and split by thread: the event loop is the main
   thread, the busiest other one is the database writer, then the readers) and the sender process's
   CPU per delivery.

Targets (issue): ≥ 1,000 deliveries/s, p99 < 100 ms from commit, create throughput with webhooks on ≥ 70 %
of off. Exit status 0 when every created message was delivered.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PYTHON = ROOT / ".venv" / "bin" / "python"
FORM = "application/x-www-form-urlencoded"
CHILDREN: list[subprocess.Popen[Any]] = []


# -- the receiver (runs as `bench_webhooks.py --receiver PORT TOKEN`) ------------------------------------------

def run_receiver(port: int, token: str) -> None:
    import uvicorn
    from twilio.request_validator import RequestValidator

    validator = RequestValidator(token)
    arrivals: list[tuple[str, float]] = []
    checked = {"valid": 0, "invalid": 0}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                await send({"type": message["type"] + ".complete"})
                if message["type"] == "lifespan.shutdown":
                    return
        arrived = time.monotonic()
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        path = scope["path"]
        reply = b""
        if path == "/__stats":
            reply = json.dumps({"arrivals": arrivals, **checked}).encode()
        elif path == "/__reset":
            arrivals.clear()
        else:
            params = dict(urllib.parse.parse_qsl(body.decode()))
            arrivals.append((params.get("MessageSid", ""), arrived))
            if len(arrivals) % 50 == 1:
                headers = dict(scope["headers"])
                url = f"http://127.0.0.1:{port}{path}"
                ok = validator.validate(url, params, headers.get(b"x-twilio-signature", b"").decode())
                checked["valid" if ok else "invalid"] += 1
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(reply)).encode())]})
        await send({"type": "http.response.body", "body": reply})

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, loop="uvloop",
                http="httptools")


# -- processes -----------------------------------------------------------------------------------------------

def spawn(cmd: list[str], **kw: Any) -> subprocess.Popen[Any]:
    proc = subprocess.Popen(cmd, **kw)
    CHILDREN.append(proc)
    return proc


def stop_all() -> None:
    for proc in CHILDREN:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pin(args: argparse.Namespace, cpus: str) -> list[str]:
    return ["taskset", "-c", cpus] if args.pin and shutil.which("taskset") else []


class Api:
    def __init__(self, port: int, account: str, token: str) -> None:
        self.port = port
        self.auth = "Basic " + base64.b64encode(f"{account}:{token}".encode()).decode()

    def call(self, method: str, path: str, form: dict[str, Any] | None = None,
             headers: dict[str, str] | None = None) -> tuple[int, Any]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            all_headers = {"Authorization": self.auth, **(headers or {})}
            body = None
            if form is not None:
                body = urllib.parse.urlencode(form, doseq=True)
                all_headers["Content-Type"] = FORM
            conn.request(method, path, body=body, headers=all_headers)
            response = conn.getresponse()
            data = response.read()
            return response.status, json.loads(data) if data else None
        finally:
            conn.close()


def wait_http(port: int, path: str, proc: subprocess.Popen[Any], log: Path | None = None) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited: {log.read_text()[-2000:] if log else ''}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", path)
            conn.getresponse().read()
            conn.close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("did not start")


def receiver_stats(port: int) -> dict[str, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/__stats")
    data = json.loads(conn.getresponse().read())
    conn.close()
    return data


# -- open-loop load ------------------------------------------------------------------------------------------

async def open_loop(port: int, auth: str, conversations: list[str], rate: float, seconds: float,
                    connections: int) -> list[tuple[str, float, float, int]]:
    """Create `rate` messages/s for `seconds`; returns (message sid, sent, answered, status) per request."""
    total = int(rate * seconds)
    jobs: asyncio.Queue[int | None] = asyncio.Queue()
    results: list[tuple[str, float, float, int]] = []

    def request(i: int) -> bytes:
        conv = conversations[i % len(conversations)]
        body = f"Author=alice&Body=bench+message+{i}".encode()
        return (f"POST /v1/Conversations/{conv}/Messages HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                f"Authorization: {auth}\r\nContent-Type: {FORM}\r\nX-Twilio-Webhook-Enabled: true\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode() + body

    async def worker() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while True:
            i = await jobs.get()
            if i is None:
                writer.close()
                return
            sent = time.monotonic()
            writer.write(request(i))
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = int(re.search(rb"(?i)content-length:\s*(\d+)", head).group(1))  # type: ignore[union-attr]
            body = await reader.readexactly(length)
            answered = time.monotonic()
            sid = json.loads(body).get("sid", "") if status == 201 else ""
            results.append((sid, sent, answered, status))

    workers = [asyncio.create_task(worker()) for _ in range(connections)]
    start = time.monotonic()
    for i in range(total):
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        jobs.put_nowait(i)
    for _ in workers:
        jobs.put_nowait(None)
    await asyncio.gather(*workers)
    return results


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(q * len(ordered) + 0.5)) - 1))]


# -- closed-loop throughput (wrk) ------------------------------------------------------------------------------

WRK_LUA = """
local paths = {__PATHS__}
local n = 0
wrk.method = "POST"
wrk.body = "Author=alice&Body=Hello+world+from+the+benchmark"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "__AUTH__"
__HEADER__
request = function()
  n = n + 1
  return wrk.format(nil, paths[(n % #paths) + 1])
end
"""


def wrk(args: argparse.Namespace, api: Api, conversations: list[str], seconds: float, webhooks: bool,
        workdir: Path) -> tuple[float, int, str]:
    script = workdir / f"load-{'on' if webhooks else 'off'}.lua"
    paths = ", ".join(f'"/v1/Conversations/{c}/Messages"' for c in conversations)
    header = 'wrk.headers["X-Twilio-Webhook-Enabled"] = "true"' if webhooks else ""
    script.write_text(WRK_LUA.replace("__PATHS__", paths).replace("__AUTH__", api.auth).replace("__HEADER__", header))
    cmd = [*pin(args, "1"), "wrk", "-t2", f"-c{args.connections}", f"-d{round(seconds)}s", "--timeout", "5s",
           "-s", str(script), f"http://127.0.0.1:{api.port}/"]
    print("    $ " + " ".join(cmd), flush=True)
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return rate, int(non2xx.group(1)) if non2xx else 0, out


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (its threads included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def thread_cpu_seconds(pid: int) -> dict[int, float]:
    """CPU time so far of each thread of a process (the main thread's id is the process id)."""
    out: dict[int, float] = {}
    for stat in Path(f"/proc/{pid}/task").glob("*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[int(stat.parent.name)] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return out


def sender_cpu_seconds(server_pid: int) -> float:
    """CPU time so far of the server's child processes (the webhook sender, HUBBUB_WEBHOOK_SENDER=process)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == server_pid:
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def commit_to_answer(database_url: str, message_sids: set[str]) -> list[float]:
    """Per delivery of these messages: its first attempt's answer time minus the time the delivery was written
    (in the create's transaction, just before its commit), from the delivery log, in ms."""
    from sqlalchemy import create_engine, text

    url = database_url.replace("postgresql://", "postgresql+psycopg://").replace("sqlite://", "sqlite+pysqlite://")
    engine = create_engine(url)
    out: list[float] = []
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT e.payload, a.created_ms, a.latency_us, d.created_ms FROM webhook_deliveries d "
            "JOIN webhook_attempts a ON a.delivery_id = d.id AND a.attempt = 0 JOIN events e ON e.id = d.event_id"))
        for payload, started, latency_us, written in rows:
            sid = json.loads(payload)["data"]["message"]["sid"]
            if sid in message_sids:
                out.append(started - written + latency_us / 1000)
    engine.dispose()
    return out


def machine_busy(seconds: float = 1.0) -> float:
    """Share of all CPUs busy over `seconds` (other processes: the figures need a quiet machine)."""
    def sample() -> tuple[int, int]:
        values = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return sum(values), values[3] + values[4]

    total0, idle0 = sample()
    time.sleep(seconds)
    total1, idle1 = sample()
    return 1 - (idle1 - idle0) / max(1, total1 - total0)


def message_total(api: Api, conversations: list[str]) -> int:
    total = 0
    for conv in conversations:
        _, page = api.call("GET", f"/v1/Conversations/{conv}/Messages?PageSize=1&Order=desc")
        total += page["messages"][0]["index"] + 1 if page["messages"] else 0
    return total


def wait_arrivals(receiver_port: int, expected: int, timeout: float) -> tuple[dict[str, Any], float]:
    start = time.monotonic()
    while True:
        stats = receiver_stats(receiver_port)
        if len({sid for sid, _ in stats["arrivals"]}) >= expected or time.monotonic() - start > timeout:
            return stats, time.monotonic() - start
        time.sleep(0.2)


# -- main ----------------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--receiver", nargs=2, metavar=("PORT", "TOKEN"), help=argparse.SUPPRESS)
    parser.add_argument("--rate", type=float, default=1000.0, help="message creates per second (steady phase)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of steady load")
    parser.add_argument("--conversations", type=int, default=20)
    parser.add_argument("--load-connections", type=int, default=64, help="connections of the open-loop generator")
    parser.add_argument("--throughput-duration", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (throughput phase)")
    parser.add_argument("--rounds", type=int, default=3, help="throughput runs of each kind, interleaved")
    parser.add_argument("--postgres-url", help="bench PostgreSQL instead of SQLite (uses database hubbub_bench_wh)")
    parser.add_argument("--sender", choices=("process", "inline"), default="process",
                        help="HUBBUB_WEBHOOK_SENDER of the server (default: process, as `hubbub serve`)")
    parser.add_argument("--sender-cpus", default="1", help="HUBBUB_WEBHOOK_SENDER_CPUS when pinning (default 1: "
                        "the second core, shared with the receiver and the load generators)")
    parser.add_argument("--no-pin", dest="pin", action="store_false")
    parser.add_argument("--python", default=str(DEFAULT_PYTHON if DEFAULT_PYTHON.exists() else sys.executable))
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--profile", metavar="FILE", help="py-spy (raw format, --gil) of the server during the "
                        "webhooks-on throughput run; read it with bench/pyspy_summary.py")
    parser.add_argument("--profile-args", default="--threads --gil",
                        help="py-spy options for --profile (default: --threads --gil)")
    args = parser.parse_args(argv)
    if args.receiver:
        run_receiver(int(args.receiver[0]), args.receiver[1])
        return 0

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    workdir = Path(tempfile.mkdtemp(prefix="hubbub-bench-wh-"))
    account, token = "AC" + secrets.token_hex(16), secrets.token_hex(16)
    try:
        return run(args, workdir, account, token)
    finally:
        stop_all()
        if args.keep:
            print(f"work directory kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def run(args: argparse.Namespace, workdir: Path, account: str, token: str) -> int:
    busy = machine_busy()
    print(f"machine busy before the run: {busy:.0%}" + (" (other processes: expect low, noisy figures)"
                                                         if busy > 0.1 else ""), flush=True)
    receiver_port, server_port = free_port(), free_port()
    receiver = spawn([*pin(args, "1"), args.python, str(Path(__file__).resolve()), "--receiver", str(receiver_port),
                      token], cwd=ROOT)
    wait_http(receiver_port, "/__reset", receiver)
    if args.postgres_url:
        from sqlalchemy import create_engine, text

        admin = create_engine(args.postgres_url.replace("postgresql://", "postgresql+psycopg://"),
                              isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("DROP DATABASE IF EXISTS hubbub_bench_wh WITH (FORCE)"))
            conn.execute(text("CREATE DATABASE hubbub_bench_wh"))
        database_url = args.postgres_url.rsplit("/", 1)[0] + "/hubbub_bench_wh"
    else:
        database_url = f"sqlite:///{workdir / 'bench.db'}"
    env = dict(os.environ, HUBBUB_ACCOUNT_SID=account, HUBBUB_AUTH_TOKEN=token, HUBBUB_LOG_LEVEL="warning",
               HUBBUB_WEBHOOK_SENDER=args.sender)
    if args.pin and args.sender == "process":
        env["HUBBUB_WEBHOOK_SENDER_CPUS"] = args.sender_cpus
    print(f"    webhook sender: {args.sender}" + (f", HUBBUB_WEBHOOK_SENDER_CPUS={args.sender_cpus}"
                                                  if "HUBBUB_WEBHOOK_SENDER_CPUS" in env else ""), flush=True)
    log = workdir / "server.log"
    cmd = [*pin(args, "0"), args.python, "-m", "hubbub", "serve", "--port", str(server_port),
           "--database-url", database_url]
    print(f"    $ {' '.join(cmd)}", flush=True)
    with open(log, "wb") as fh:
        server = spawn(cmd, cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT)
    wait_http(server_port, "/v1/Configuration", server, log)
    api = Api(server_port, account, token)

    _, conf = api.call("GET", "/v1/Configuration")
    service = conf["default_chat_service_sid"]
    status, _ = api.call("POST", f"/v1/Services/{service}/Configuration/Webhooks", {
        "PostWebhookUrl": f"http://127.0.0.1:{receiver_port}/hook", "Filters": ["onMessageAdded"], "Method": "POST"})
    assert status == 200
    conversations = []
    for n in range(args.conversations):
        _, conv = api.call("POST", "/v1/Conversations", {"FriendlyName": f"bench {n}"})
        conversations.append(conv["sid"])
        api.call("POST", f"/v1/Conversations/{conv['sid']}/Participants", {"Identity": "alice"})

    # warm-up (connections, caches), not measured
    try:
        import uvloop
        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    runner(open_loop(server_port, api.auth, conversations, min(args.rate, 500), 1.0, args.load_connections))
    wait_arrivals(receiver_port, 500, 30)
    api_reset = http.client.HTTPConnection("127.0.0.1", receiver_port)
    api_reset.request("GET", "/__reset")
    api_reset.getresponse().read()

    print(f"== steady load: {args.rate:.0f} creates/s for {args.duration:.0f}s over {len(conversations)} "
          f"conversations, one post-action webhook each ==", flush=True)
    cpu0, sender0 = cpu_seconds(server.pid), sender_cpu_seconds(server.pid)
    results = runner(open_loop(server_port, api.auth, conversations, args.rate, args.duration,
                               args.load_connections))
    created = {sid: (sent, answered) for sid, sent, answered, st in results if st == 201}
    failures = sum(1 for r in results if r[3] != 201)
    first_sent = min(r[1] for r in results)
    last_answer = max(r[2] for r in results)
    stats, drain = wait_arrivals(receiver_port, len(created), 120)
    steady_cpu = cpu_seconds(server.pid) - cpu0
    steady_sender = sender_cpu_seconds(server.pid) - sender0
    arrivals: dict[str, float] = {}
    for sid, at in stats["arrivals"]:
        arrivals.setdefault(sid, at)
    missing = [sid for sid in created if sid not in arrivals]
    from_request = [(arrivals[s] - created[s][0]) * 1000 for s in created if s in arrivals]
    from_answer = [(arrivals[s] - created[s][1]) * 1000 for s in created if s in arrivals]
    times = sorted(arrivals[s] for s in created if s in arrivals)
    delivery_window = times[-1] - times[0] if len(times) > 1 else float("nan")
    create_rate = len(created) / (last_answer - first_sent)
    delivery_rate = len(times) / delivery_window
    print(f"creates: {len(created)} ok, {failures} failed, {create_rate:,.1f}/s achieved; server CPU "
          f"{steady_cpu * 1000 / max(1, len(created)):.3f} ms per create + delivery"
          + (f", sender process CPU {steady_sender * 1000 / max(1, len(created)):.3f} ms per delivery"
             if args.sender == "process" else ""))
    print(f"deliveries: {len(times)} of {len(created)} arrived ({len(missing)} missing), "
          f"{delivery_rate:,.1f}/s from first to last arrival, all in {drain:.1f}s after the load ended; "
          f"signatures checked: {stats['valid']} valid, {stats['invalid']} invalid")
    for name, values in (("from request", from_request), ("from 201", from_answer)):
        print(f"latency {name:<13} p50 {percentile(values, .5):7.2f} ms   p95 {percentile(values, .95):7.2f} ms   "
              f"p99 {percentile(values, .99):7.2f} ms   max {max(values):7.2f} ms")

    time.sleep(0.2)  # outcomes are written within 20 ms
    server_side = commit_to_answer(database_url, set(created))
    if server_side:
        print(f"server side, write -> receiver answered (first attempts, from the delivery log): "
              f"p50 {percentile(server_side, .5):7.2f} ms   p95 {percentile(server_side, .95):7.2f} ms   "
              f"p99 {percentile(server_side, .99):7.2f} ms", flush=True)

    print(f"== create throughput, closed loop: wrk {args.connections} connections, "
          f"{args.throughput_duration:.0f}s per run, {args.rounds} rounds of off then on ==", flush=True)
    runs: dict[bool, list[tuple[float, float]]] = {False: [], True: []}  # (creates/s, server CPU ms per create)
    on_missing = 0
    profiler = None
    for round_no in range(args.rounds):
        for webhooks in (False, True):
            reset = http.client.HTTPConnection("127.0.0.1", receiver_port)
            reset.request("GET", "/__reset")
            reset.getresponse().read()
            before = message_total(api, conversations)
            cpu0, sender0 = cpu_seconds(server.pid), sender_cpu_seconds(server.pid)
            threads0 = thread_cpu_seconds(server.pid)
            if args.profile and webhooks and round_no == args.rounds - 1:
                profiler = spawn([str(Path(args.python).parent / "py-spy"), "record", "--pid", str(server.pid),
                                  "--format", "raw", *args.profile_args.split(), "-d",
                                  str(max(1, round(args.throughput_duration) - 1)), "-o", args.profile],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            rate, errors, _ = wrk(args, api, conversations, args.throughput_duration, webhooks, workdir)
            if profiler is not None:
                profiler.wait(timeout=60)
                profiler = None
            made = message_total(api, conversations) - before
            drain_note = ""
            if webhooks:
                arrived_stats, drain_s = wait_arrivals(receiver_port, made, 300)
                arrived = len({sid for sid, _ in arrived_stats["arrivals"]})
                on_missing += max(0, made - arrived)
                drain_note = f", {arrived} deliveries arrived (the last {drain_s:.1f}s after the load ended)"
            cpu_ms = (cpu_seconds(server.pid) - cpu0) * 1000 / max(1, made)
            sender_ms = (sender_cpu_seconds(server.pid) - sender0) * 1000 / max(1, made)
            threads1 = thread_cpu_seconds(server.pid)
            per_thread = sorted(((threads1[t] - threads0.get(t, 0.0)) * 1000 / max(1, made), t) for t in threads1)
            main_ms = next(ms for ms, t in per_thread if t == server.pid)
            others = [ms for ms, t in reversed(per_thread) if t != server.pid and ms >= 0.005]
            drain_note += (f"; by thread: event loop {main_ms:.3f} ms, others "
                           + ", ".join(f"{ms:.3f}" for ms in others) + " ms")
            if webhooks and args.sender == "process":
                drain_note += f"; sender process CPU {sender_ms:.3f} ms per delivery"
            runs[webhooks].append((rate, cpu_ms))
            print(f"  webhooks {'on ' if webhooks else 'off'}: {rate:9,.1f} creates/s, {errors} non-2xx, "
                  f"server CPU {cpu_ms:.3f} ms per create{' + delivery' if webhooks else ''}{drain_note}",
                  flush=True)
    off_rate = sorted(r for r, _ in runs[False])[len(runs[False]) // 2]
    on_rate = sorted(r for r, _ in runs[True])[len(runs[True]) // 2]
    off_cpu = sorted(c for _, c in runs[False])[len(runs[False]) // 2]
    on_cpu = sorted(c for _, c in runs[True])[len(runs[True]) // 2]
    ratio = on_rate / off_rate
    print(f"median: off {off_rate:,.1f} creates/s, on {on_rate:,.1f} creates/s: on / off = {ratio:.2f}; "
          f"server CPU per create {off_cpu:.3f} ms off, {on_cpu:.3f} ms on (a CPU-bound server: "
          f"on / off = {off_cpu / on_cpu:.2f})")

    p99 = percentile(from_request, .99)
    print("== summary ==")
    print(f"deliveries/s {delivery_rate:,.1f} (target >= 1,000): {'PASS' if delivery_rate >= 1000 else 'MISS'}")
    print(f"p99 commit -> arrival <= {p99:.2f} ms (measured from the create request; target < 100 ms): "
          f"{'PASS' if p99 < 100 else 'MISS'}")
    print(f"create throughput with webhooks on = {ratio:.0%} of off (target >= 70%): "
          f"{'PASS' if ratio >= 0.7 else 'MISS'}")
    ok = not missing and on_missing == 0 and failures == 0 and stats["invalid"] == 0
    print(f"every created message delivered, signatures valid: {'yes' if ok else 'NO'}")
    if args.postgres_url:
        from sqlalchemy import create_engine, text

        stop_all()
        admin = create_engine(args.postgres_url.replace("postgresql://", "postgresql+psycopg://"),
                              isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("DROP DATABASE IF EXISTS hubbub_bench_wh WITH (FORCE)"))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
