"""Message-create benchmark: the real server against a no-database ceiling of the same stack.

Starts `python -m hubbub serve` (SQLite, and PostgreSQL with --postgres-url), creates one conversation
with a chat participant `alice` and one SMS participant (so every create also writes a receipt and an
outbox event), then drives `POST /v1/Conversations/{sid}/Messages` with N keep-alive connections for
D seconds using wrk (or, when wrk is absent, a raw-asyncio load generator). In the same run it serves
bench/ceiling_app.py (same uvicorn settings, same auth/form/JSON code, no database) and drives it the
same way. Prints creates/s, p50/p99 latency, non-2xx count and the ratio to the ceiling, checks that
every 201 is a row in the database, and grades the target (SQLite: >= 2000 creates/s, p99 < 50 ms).

    .venv/bin/python bench/bench_messages.py [--duration 10] [--connections 32]
        [--postgres-url postgresql://postgres@127.0.0.1:5432/test] [--skip-ceiling]

See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import http.client
import json
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PYTHON = ROOT / ".venv" / "bin" / "python"
MESSAGE_BODY = "Author=alice&Body=Hello+world+from+the+benchmark&Attributes=%7B%22k%22%3A1%7D"
FORM_TYPE = "application/x-www-form-urlencoded"
TARGET_RATE = 2000.0
TARGET_P99_MS = 50.0
PG_BENCH_DB = "hubbub_bench"

# ---------------------------------------------------------------------------------------------------
# Subprocess bookkeeping: everything started here is stopped on any exit.
# ---------------------------------------------------------------------------------------------------
_CHILDREN: list[subprocess.Popen[Any]] = []


def _spawn(cmd: list[str], **kwargs: Any) -> subprocess.Popen[Any]:
    proc = subprocess.Popen(cmd, **kwargs)
    _CHILDREN.append(proc)
    return proc


def _stop(proc: subprocess.Popen[Any], grace: float = 15.0) -> None:
    if proc.poll() is None:
        try:
            proc.terminate()
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    if proc in _CHILDREN:
        _CHILDREN.remove(proc)


def _stop_all() -> None:
    for proc in list(_CHILDREN):
        try:
            _stop(proc, grace=5.0)
        except Exception:  # noqa: BLE001 - best effort on the way out
            try:
                proc.kill()
            except Exception:  # noqa: BLE001
                pass


def _on_signal(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)


# ---------------------------------------------------------------------------------------------------
# Small HTTP client for set-up and checks (stdlib only).
# ---------------------------------------------------------------------------------------------------
@dataclass
class Target:
    host: str
    port: int
    auth_header: str

    def call(self, method: str, path: str, form: dict[str, str] | None = None,
             timeout: float = 10.0) -> tuple[int, Any]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            headers = {"Authorization": self.auth_header}
            body = None
            if form is not None:
                body = urllib.parse.urlencode(form)
                headers["Content-Type"] = FORM_TYPE
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, (json.loads(data) if data else None)
        finally:
            conn.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(proc: subprocess.Popen[Any], target: Target, probe: str, log: Path,
                timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}; log:\n{_tail(log)}")
        try:
            with socket.create_connection((target.host, target.port), timeout=1):
                pass
            method, _, path = probe.rpartition(" ")
            status, _ = target.call(method or "GET", path)
            if status < 500:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server not ready after {timeout:.0f}s; log:\n{_tail(log)}")


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# ---------------------------------------------------------------------------------------------------
# Load generation.
# ---------------------------------------------------------------------------------------------------
@dataclass
class LoadResult:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    non_2xx: int
    socket_errors: str
    statuses: dict[int, int] = field(default_factory=dict)
    raw: str = ""
    server_cpu: float | None = None  # CPUs the server used during the run (1.0 = one core)
    foreign_scope: str = ""
    foreign_cpu: float | None = None  # CPUs used by processes other than the server and load generator

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def cpu_us(self) -> float | None:
        """Server CPU time per request (all its threads), in microseconds: robust to a busy machine."""
        if self.server_cpu is None or not self.rate:
            return None
        return self.server_cpu / self.rate * 1e6


WRK_LUA = r"""
wrk.method = "POST"
wrk.body = "__BODY__"
wrk.headers["Content-Type"] = "__CTYPE__"
wrk.headers["Authorization"] = "__AUTH__"

__PATHS__
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) statuses = {} end
function response(status, headers, body) statuses[status] = (statuses[status] or 0) + 1 end
function done(summary, latency, requests)
  local counts = {}
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("statuses")) do counts[k] = (counts[k] or 0) + v end
  end
  local e = summary.errors
  io.write(string.format("BENCH requests %d duration_us %d\n", summary.requests, summary.duration))
  io.write(string.format("BENCH errors connect %d read %d write %d status %d timeout %d\n",
                         e.connect, e.read, e.write, e.status, e.timeout))
  io.write(string.format("BENCH latency_us p50 %d p99 %d max %d\n",
                         latency:percentile(50), latency:percentile(99), latency.max))
  for k, v in pairs(counts) do io.write(string.format("BENCH status %d %d\n", k, v)) end
end
"""

_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _wrk_latency_ms(text: str, pct: str) -> float | None:
    m = re.search(rf"^\s*{pct}%\s+([\d.]+)(us|ms|s|m)\s*$", text, re.M)
    return float(m.group(1)) * _UNIT_MS[m.group(2)] if m else None


def run_wrk(args: argparse.Namespace, target: Target, path: str, seconds: float, workdir: Path,
            quiet: bool = False) -> LoadResult:
    script = workdir / "post_message.lua"
    paths = path.split(",")
    # Several conversations: each request goes to one picked at random.
    pick = ("local paths = {" + ", ".join(f'"{p}"' for p in paths) + "}\n"
            "function request() return wrk.format(nil, paths[math.random(#paths)]) end") if len(paths) > 1 else ""
    script.write_text(WRK_LUA.replace("__BODY__", MESSAGE_BODY).replace("__CTYPE__", FORM_TYPE)
                      .replace("__AUTH__", target.auth_header).replace("__PATHS__", pick))
    cmd = [*_pin(args, args.client_cpus), "wrk", f"-t{args.threads}", f"-c{args.connections}",
           f"-d{max(1, round(seconds))}s", "--latency", "--timeout", "5s", "-s", str(script),
           f"http://{target.host}:{target.port}{paths[0]}"]
    if not quiet:
        print("    $ " + " ".join(cmd), flush=True)
    proc = _spawn(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out, _ = proc.communicate(timeout=seconds + 60)
    _CHILDREN.remove(proc)
    if proc.returncode != 0:
        raise RuntimeError(f"wrk failed ({proc.returncode}):\n{out}")
    nums = re.search(r"BENCH requests (\d+) duration_us (\d+)", out)
    lat = re.search(r"BENCH latency_us p50 (\d+) p99 (\d+) max (\d+)", out)
    errs = re.search(r"BENCH errors (.*)", out)
    if not nums or not lat:
        raise RuntimeError(f"could not parse wrk output:\n{out}")
    statuses = {int(k): int(v) for k, v in re.findall(r"BENCH status (\d+) (\d+)", out)}
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    # wrk's own text ("Requests/sec", "50%", "99%") agrees with the Lua summary; the Lua figures are
    # used because they are in microseconds rather than rounded to two decimals of a unit.
    p50 = int(lat.group(1)) / 1000.0
    p99 = int(lat.group(2)) / 1000.0
    for pct, value in (("50", p50), ("99", p99)):
        shown = _wrk_latency_ms(out, pct)
        if shown is not None and abs(shown - value) > max(0.05, 0.02 * value):
            print(f"    note: wrk text {pct}% = {shown:.2f} ms, Lua summary = {value:.2f} ms", flush=True)
    sock = errs.group(1) if errs else "?"
    return LoadResult(requests=int(nums.group(1)), seconds=int(nums.group(2)) / 1e6, p50_ms=p50, p99_ms=p99,
                      max_ms=int(lat.group(3)) / 1000.0, non_2xx=int(non2xx.group(1)) if non2xx else 0,
                      socket_errors=sock, statuses=statuses, raw=out)


async def _asyncio_load(host: str, port: int, requests: list[bytes], connections: int,
                        seconds: float) -> dict[str, Any]:
    latencies: list[int] = []
    statuses: Counter[int] = Counter()
    errors: Counter[str] = Counter()
    start = time.perf_counter()
    deadline = start + seconds

    async def client(request: bytes) -> None:
        try:
            reader, writer = await asyncio.open_connection(host, port)
        except OSError:
            errors["connect"] += 1
            return
        try:
            while time.perf_counter() < deadline:
                t0 = time.perf_counter_ns()
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head[9:12])
                m = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
                if m is None:
                    errors["no-content-length"] += 1
                    return
                await reader.readexactly(int(m.group(1)))
                latencies.append(time.perf_counter_ns() - t0)
                statuses[status] += 1
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            errors["read"] += 1
        finally:
            writer.close()

    await asyncio.gather(*(client(requests[i % len(requests)]) for i in range(connections)))
    elapsed = time.perf_counter() - start
    latencies.sort()

    def pct(p: float) -> float:
        if not latencies:
            return 0.0
        return latencies[min(len(latencies) - 1, int(p / 100.0 * len(latencies)))] / 1e6

    return {"requests": len(latencies), "seconds": elapsed, "p50_ms": pct(50), "p99_ms": pct(99),
            "max_ms": latencies[-1] / 1e6 if latencies else 0.0, "statuses": dict(statuses),
            "errors": dict(errors)}


def _loadgen_worker(spec: str) -> int:
    """Entry point of the Python fallback load generator (a separate, pinned process)."""
    cfg = json.loads(spec)
    try:
        import uvloop  # type: ignore[import-not-found]

        uvloop.install()
    except ImportError:
        pass
    requests = [(f"POST {path} HTTP/1.1\r\nHost: {cfg['host']}:{cfg['port']}\r\n"
                 f"Authorization: {cfg['auth']}\r\nContent-Type: {FORM_TYPE}\r\n"
                 f"Content-Length: {len(cfg['body'])}\r\n\r\n{cfg['body']}").encode()
                for path in cfg["path"].split(",")]
    result = asyncio.run(_asyncio_load(cfg["host"], cfg["port"], requests, cfg["connections"], cfg["seconds"]))
    print(json.dumps(result), flush=True)
    return 0


def run_python_load(args: argparse.Namespace, target: Target, path: str, seconds: float,
                    quiet: bool = False) -> LoadResult:
    spec = json.dumps({"host": target.host, "port": target.port, "path": path, "auth": target.auth_header,
                       "body": MESSAGE_BODY, "connections": args.connections, "seconds": seconds})
    cmd = [*_pin(args, args.client_cpus), args.python, str(Path(__file__).resolve()),
           "--loadgen-worker", spec]
    if not quiet:
        print(f"    $ (python asyncio load generator, {args.connections} keep-alive connections, "
              f"{seconds:g}s)", flush=True)
    proc = _spawn(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = proc.communicate(timeout=seconds + 60)
    _CHILDREN.remove(proc)
    if proc.returncode != 0:
        raise RuntimeError(f"load generator failed:\n{err}")
    r = json.loads(out.strip().splitlines()[-1])
    statuses = {int(k): v for k, v in r["statuses"].items()}
    non2xx = sum(v for k, v in statuses.items() if k >= 400)
    errs = " ".join(f"{k} {v}" for k, v in r["errors"].items()) or "none"
    return LoadResult(requests=r["requests"], seconds=r["seconds"], p50_ms=r["p50_ms"], p99_ms=r["p99_ms"],
                      max_ms=r["max_ms"], non_2xx=non2xx, socket_errors=errs, statuses=statuses)


def warm_up(args: argparse.Namespace, target: Target, path: str, workdir: Path) -> None:
    if args.warmup > 0:
        print(f"    warm-up {args.warmup:g}s (not counted)", flush=True)
        _load(args, target, path, workdir, args.warmup, True)


def measure(args: argparse.Namespace, target: Target, path: str, workdir: Path,
            server_pid: int) -> LoadResult:
    """The measured run, plus the server's CPU use and how much CPU other processes took meanwhile.

    With the server pinned to one CPU, "other" is the rest of that CPU's busy time (what competed with
    the server); otherwise it is the whole machine's busy time less the server's and this script's.
    """
    core = args.server_cpus if args.pin and args.server_cpus.isdigit() else None
    before = _cpu_snapshot(server_pid, core)
    result = _load(args, target, path, workdir, args.duration, False)
    after = _cpu_snapshot(server_pid, core)
    if before is not None and after is not None:
        elapsed = after[0] - before[0]
        busy, ours = after[1] - before[1], after[2] - before[2]
        result.server_cpu = (after[3] - before[3]) / elapsed
        result.foreign_cpu = max(0.0, busy - ours) / elapsed
        result.foreign_scope = f"on CPU {core}" if core is not None else "on the machine"
    return result


def _load(args: argparse.Namespace, target: Target, path: str, workdir: Path, seconds: float,
          quiet: bool) -> LoadResult:
    if args.loadgen == "wrk":
        return run_wrk(args, target, path, seconds, workdir, quiet)
    return run_python_load(args, target, path, seconds, quiet)


_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _cpu_snapshot(server_pid: int, core: str | None) -> tuple[float, float, float, float] | None:
    """(wall, busy CPU-s of `core` or of the machine, CPU-s of ours on it, server CPU-s)."""
    try:
        with open("/proc/stat") as fh:
            lines = fh.read().splitlines()
        key = f"cpu{core}" if core is not None else "cpu"
        ticks = [int(v) for v in next(ln for ln in lines if ln.split()[0] == key).split()[1:]]
        with open(f"/proc/{server_pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        server = (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime (all threads)
    except (OSError, ValueError, IndexError, StopIteration):
        return None
    busy = (ticks[0] + ticks[1] + ticks[2] + ticks[5] + ticks[6]) / _TICK  # user nice system irq softirq
    ours = server
    if core is None:  # this script and its reaped children (the load generator) count as ours too
        t = os.times()
        ours += t.user + t.system + t.children_user + t.children_system
    return time.monotonic(), busy, ours, server


# ---------------------------------------------------------------------------------------------------
# Servers.
# ---------------------------------------------------------------------------------------------------
def _pin(args: argparse.Namespace, cpus: str | None) -> list[str]:
    return ["taskset", "-c", cpus] if cpus and args.pin else []


def _env(args: argparse.Namespace) -> dict[str, str]:
    env = dict(os.environ)
    env.update(HUBBUB_ACCOUNT_SID=args.account_sid, HUBBUB_AUTH_TOKEN=args.auth_token,
               HUBBUB_LOG_LEVEL="warning", PYTHONUNBUFFERED="1")
    env.pop("HUBBUB_PUBLIC_URL", None)
    env.pop("HUBBUB_DATABASE_URL", None)
    return env


def start_hubbub(args: argparse.Namespace, database_url: str, workdir: Path,
                 name: str) -> tuple[subprocess.Popen[Any], Target, Path]:
    port = _free_port()
    log = workdir / f"server-{name}.log"
    cmd = [*_pin(args, args.server_cpus), args.python, "-m", "hubbub", "serve", "--port", str(port),
           "--database-url", database_url]
    print(f"    $ {' '.join(cmd)}", flush=True)
    with open(log, "wb") as fh:
        proc = _spawn(cmd, cwd=ROOT, env=_env(args), stdout=fh, stderr=subprocess.STDOUT)
    target = Target("127.0.0.1", port, _basic(args))
    _wait_ready(proc, target, "/v1/Conversations?PageSize=1", log)
    print(f"    server pid {proc.pid}", flush=True)
    return proc, target, log


def start_ceiling(args: argparse.Namespace, workdir: Path) -> tuple[subprocess.Popen[Any], Target, Path]:
    port = _free_port()
    log = workdir / "server-ceiling.log"
    cmd = [*_pin(args, args.server_cpus), args.python, str(ROOT / "bench" / "ceiling_app.py"), str(port)]
    print(f"    $ {' '.join(cmd)}", flush=True)
    with open(log, "wb") as fh:
        proc = _spawn(cmd, cwd=ROOT, env=_env(args), stdout=fh, stderr=subprocess.STDOUT)
    target = Target("127.0.0.1", port, _basic(args))
    _wait_ready(proc, target, "POST /v1/Conversations/CH" + "0" * 32 + "/Messages", log)
    return proc, target, log


def machine_busy(seconds: float = 1.0) -> float | None:
    """Share of all CPUs busy over `seconds` before the run (other work on the box skews the figures)."""
    def sample() -> tuple[int, int]:
        with open("/proc/stat") as fh:
            values = [int(v) for v in fh.readline().split()[1:]]
        return sum(values), values[3] + values[4]

    try:
        total0, idle0 = sample()
        time.sleep(seconds)
        total1, idle1 = sample()
    except (OSError, ValueError, IndexError):
        return None
    return 1.0 - (idle1 - idle0) / max(1, total1 - total0)


def _basic(args: argparse.Namespace) -> str:
    return "Basic " + base64.b64encode(f"{args.account_sid}:{args.auth_token}".encode()).decode()


def set_up_conversation(target: Target, n: int = 0) -> str:
    status, conv = target.call("POST", "/v1/Conversations", {"FriendlyName": "bench"})
    if status != 201:
        raise RuntimeError(f"create conversation: {status} {conv}")
    sid = conv["sid"]
    # a number pair binds one conversation: a different phone per conversation
    sms = {"MessagingBinding.Address": f"+1555867{5310 + n:04d}", "MessagingBinding.ProxyAddress": "+15017122661"}
    for form in ({"Identity": "alice"}, sms):
        status, body = target.call("POST", f"/v1/Conversations/{sid}/Participants", form)
        if status != 201:
            raise RuntimeError(f"add participant {form}: {status} {body}")
    # One create through the stdlib client proves the request the load generator will send is valid.
    probe = dict(urllib.parse.parse_qsl(MESSAGE_BODY))
    status, body = target.call("POST", f"/v1/Conversations/{sid}/Messages", probe)
    if status != 201 or body.get("delivery", {}).get("total") != 1:
        raise RuntimeError(f"probe message create: {status} {body}")
    return sid


def api_message_count(target: Target, conv: str) -> int:
    """Messages in the conversation as the API sees them: indices are dense, so last index + 1."""
    status, body = target.call("GET", f"/v1/Conversations/{conv}/Messages?PageSize=1&Order=desc")
    if status != 200:
        raise RuntimeError(f"list messages: {status} {body}")
    return body["messages"][0]["index"] + 1 if body["messages"] else 0


def settled_count(target: Target, conv: str, timeout: float = 30.0) -> int:
    """Wait until requests still in flight when a load generator hung up have committed."""
    deadline = time.monotonic() + timeout
    last = api_message_count(target, conv)
    while time.monotonic() < deadline:
        time.sleep(0.3)
        now = api_message_count(target, conv)
        if now == last:
            return now
        last = now
    raise RuntimeError("message count did not settle")


def db_counts(database_url: str, conv: str) -> tuple[int, int]:
    sql_m = "SELECT count(*) FROM messages WHERE conversation_sid = ?"
    sql_r = "SELECT count(*) FROM receipts WHERE conversation_sid = ?"
    if database_url.startswith("sqlite:///"):
        lite = sqlite3.connect(database_url[len("sqlite:///"):], timeout=30)
        try:
            return lite.execute(sql_m, (conv,)).fetchone()[0], lite.execute(sql_r, (conv,)).fetchone()[0]
        finally:
            lite.close()
    import psycopg  # type: ignore[import-not-found]

    with psycopg.connect(database_url) as conn:
        m = conn.execute(sql_m.replace("?", "%s"), (conv,)).fetchone() or (0,)
        r = conn.execute(sql_r.replace("?", "%s"), (conv,)).fetchone() or (0,)
        return int(m[0]), int(r[0])


def _db_totals(database_url: str, convs: list[str]) -> tuple[int, int]:
    counts = [db_counts(database_url, conv) for conv in convs]
    return sum(m for m, _ in counts), sum(r for _, r in counts)


# ---------------------------------------------------------------------------------------------------
# One benchmark run per backend.
# ---------------------------------------------------------------------------------------------------
@dataclass
class Outcome:
    name: str
    load: LoadResult
    check: str
    ok: bool


def bench_backend(args: argparse.Namespace, name: str, database_url: str, workdir: Path) -> Outcome:
    print(f"\n[{name}] {database_url}", flush=True)
    proc, target, log = start_hubbub(args, database_url, workdir, name)
    profiler: subprocess.Popen[Any] | None = None
    try:
        convs = [set_up_conversation(target, n) for n in range(args.conversations)]
        path = ",".join(f"/v1/Conversations/{conv}/Messages" for conv in convs)  # several: one per request
        warm_up(args, target, path, workdir)
        before_api = sum(settled_count(target, conv) for conv in convs)
        before_m, before_r = _db_totals(database_url, convs)
        if args.profile and name == args.profile_backend:
            profiler = start_profiler(args, proc.pid)
        load = measure(args, target, path, workdir, proc.pid)
        if profiler is not None:
            profiler.wait(timeout=args.duration + 30)
            _CHILDREN.remove(profiler)
            print(f"    py-spy profile written to {args.profile}", flush=True)
        after_api = sum(settled_count(target, conv) for conv in convs)
        after_m, after_r = _db_totals(database_url, convs)
        created = load.statuses.get(201, 0)
        rows, receipts, api_rows = after_m - before_m, after_r - before_r, after_api - before_api
        extra = rows - created  # accepted by the server but not answered before wrk hung up
        ok = (load.non_2xx == 0 and rows == receipts == api_rows and 0 <= extra <= args.connections
              and created == load.requests)
        check = (f"{created} responses 201 of {load.requests}; {rows} messages, {receipts} receipts in the "
                 f"database, {api_rows} by the API ({extra:+d} answered after the load generator hung up); "
                 f"socket errors: {load.socket_errors} -> {'OK' if ok else 'MISMATCH'}")
        print(f"    {load.rate:,.1f} creates/s, p50 {load.p50_ms:.2f} ms, p99 {load.p99_ms:.2f} ms, "
              f"max {load.max_ms:.2f} ms, non-2xx {load.non_2xx}", flush=True)
        print(f"    {_cpu_line(load, name)}", flush=True)
        print(f"    check: {check}", flush=True)
        if proc.poll() is not None:
            raise RuntimeError(f"server died; log:\n{_tail(log)}")
        return Outcome(name, load, check, ok)
    finally:
        if profiler is not None:
            _stop(profiler)
        _stop(proc)
        warnings = [ln for ln in _tail(log, 200).splitlines() if "WARNING" in ln or "ERROR" in ln]
        if warnings:
            print(f"    server log has {len(warnings)} warning/error lines, last: {warnings[-1][:200]}",
                  flush=True)


def _cpu_line(load: LoadResult, name: str) -> str:
    if load.server_cpu is None or load.foreign_cpu is None:
        return "CPU use: unknown"
    others = "other processes" + (" (PostgreSQL included)" if name == "postgresql" and not
                                  load.foreign_scope.startswith("on CPU") else "") + " " + load.foreign_scope
    return (f"CPU during the run: server {load.server_cpu:.2f} cores ({load.cpu_us or 0:.0f} us per request), "
            f"{others} {load.foreign_cpu:.2f} cores"
            + ("  <- WARNING: something else was running" if name != "postgresql" and load.foreign_cpu > 0.10
               else ""))


def bench_ceiling(args: argparse.Namespace, workdir: Path) -> Outcome:
    print("\n[ceiling] bench/ceiling_app.py: same stack, no database", flush=True)
    proc, target, log = start_ceiling(args, workdir)
    try:
        path = "/v1/Conversations/CH" + "0" * 32 + "/Messages"
        warm_up(args, target, path, workdir)
        load = measure(args, target, path, workdir, proc.pid)
        print(f"    {load.rate:,.1f} req/s, p50 {load.p50_ms:.2f} ms, p99 {load.p99_ms:.2f} ms, "
              f"max {load.max_ms:.2f} ms, non-2xx {load.non_2xx}", flush=True)
        print(f"    {_cpu_line(load, 'ceiling')}", flush=True)
        ok = load.non_2xx == 0 and load.statuses.get(201, 0) == load.requests
        return Outcome("ceiling", load, f"{load.statuses.get(201, 0)} responses 201 of {load.requests}", ok)
    finally:
        _stop(proc)


def start_profiler(args: argparse.Namespace, pid: int) -> subprocess.Popen[Any]:
    pyspy = shutil.which("py-spy") or str(Path(args.python).parent / "py-spy")
    cmd = [*_pin(args, args.client_cpus), pyspy, "record", "--pid", str(pid), "--duration",
           str(max(1, int(args.duration) - 2)), "--format", "raw", "--output", args.profile,
           *args.profile_args.split()]
    print(f"    $ {' '.join(cmd)}", flush=True)
    return _spawn(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# ---------------------------------------------------------------------------------------------------
# PostgreSQL scratch database.
# ---------------------------------------------------------------------------------------------------
def _with_db(url: str, dbname: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, "/" + dbname, parts.query, parts.fragment))


def _pg_admin(url: str, *statements: str) -> None:
    import psycopg  # type: ignore[import-not-found]

    with psycopg.connect(url, autocommit=True) as conn:
        for stmt in statements:
            conn.execute(stmt)


# ---------------------------------------------------------------------------------------------------
# Report.
# ---------------------------------------------------------------------------------------------------
def report(args: argparse.Namespace, outcomes: list[Outcome]) -> bool:
    ceiling = next((o for o in outcomes if o.name == "ceiling"), None)
    print(f"\n== message creates: {args.connections} connections, {args.conversations} conversation(s), "
          f"{args.duration:g}s, load generator "
          f"{args.loadgen}, server {'pinned to CPU ' + args.server_cpus if args.pin else 'not pinned'} ==")
    print(f"{'backend':<12}{'creates/s':>11}{'p50 ms':>9}{'p99 ms':>9}{'non-2xx':>9}{'ratio to ceiling':>18}"
          f"{'server CPU us/req':>19}")
    for o in outcomes:
        ratio = f"{o.load.rate / ceiling.load.rate:.2f}" if ceiling and ceiling.load.rate else "-"
        cpu = f"{o.load.cpu_us:.0f}" if o.load.cpu_us is not None else "-"
        print(f"{o.name:<12}{o.load.rate:>11,.1f}{o.load.p50_ms:>9.2f}{o.load.p99_ms:>9.2f}{o.load.non_2xx:>9}"
              f"{ratio:>18}{cpu:>19}")
    ok = all(o.ok for o in outcomes)
    sqlite = next((o for o in outcomes if o.name == "sqlite"), None)
    if sqlite is not None and args.conversations != 1:
        print("target: graded on the one-conversation run only (the issue's case)")
    elif sqlite is not None:
        met = sqlite.load.rate >= TARGET_RATE and sqlite.load.p99_ms < TARGET_P99_MS and sqlite.ok
        print(f"target (SQLite, one process, {args.connections} clients): "
              f">= {TARGET_RATE:,.0f} creates/s and "
              f"p99 < {TARGET_P99_MS:g} ms: {'PASS' if met else 'MISS'} "
              f"({sqlite.load.rate:,.1f}/s, p99 {sqlite.load.p99_ms:.2f} ms"
              f"{'' if sqlite.ok else ', correctness check failed'})")
    noisy = [o.name for o in outcomes if o.name != "postgresql" and (o.load.foreign_cpu or 0.0) > 0.10]
    if noisy:
        print(f"WARNING: other processes used more than 0.1 core during: {', '.join(noisy)}; "
              "those figures are not clean")
    for o in outcomes:
        if not o.ok:
            print(f"FAILED check [{o.name}]: {o.check}")
    return ok


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--loadgen-worker"]:
        return _loadgen_worker(argv[1])
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=float, default=10.0, help="measured seconds per server (10)")
    p.add_argument("--connections", type=int, default=32, help="concurrent keep-alive clients (32)")
    p.add_argument("--conversations", type=int, default=1,
                   help="spread the creates over this many conversations (1: all into one, the issue's case)")
    p.add_argument("--threads", type=int, default=2, help="wrk threads (2)")
    p.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds of load first (2)")
    p.add_argument("--postgres-url", help="also bench PostgreSQL: a server URL; a scratch database "
                                          f"'{PG_BENCH_DB}' is created on it and dropped afterwards")
    p.add_argument("--skip-sqlite", action="store_true", help="skip the SQLite figure")
    p.add_argument("--skip-ceiling", action="store_true", help="skip the no-database ceiling")
    p.add_argument("--loadgen", choices=["auto", "wrk", "python"], default="auto",
                   help="wrk if installed (auto, the default), or the built-in asyncio generator")
    p.add_argument("--server-cpus", default="0", help="taskset CPU list for the server (0)")
    p.add_argument("--client-cpus", default="1", help="taskset CPU list for the load generator (1)")
    p.add_argument("--no-pin", dest="pin", action="store_false", help="do not use taskset (default: pin)")
    p.add_argument("--python", default=str(DEFAULT_PYTHON if DEFAULT_PYTHON.exists() else sys.executable),
                   help="interpreter that runs the servers (the repo's .venv)")
    p.add_argument("--db-dir", help="directory for the SQLite file (default: a fresh temporary directory)")
    p.add_argument("--profile", metavar="FILE", help="run py-spy (raw/collapsed format, per thread) on the "
                                                     "server during its measured run; the figures "
                                                     "of a profiled run are perturbed")
    p.add_argument("--profile-backend", choices=["sqlite", "postgresql"], default="sqlite",
                   help="which server --profile samples (sqlite)")
    p.add_argument("--profile-args", default="--threads --rate 100",
                   help="py-spy record options ('--threads --rate 100'); e.g. add --gil or --native")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory (DB, logs, Lua)")
    args = p.parse_args(argv)
    args.account_sid = "AC" + secrets.token_hex(16)
    args.auth_token = secrets.token_hex(16)

    if args.loadgen in ("auto", "wrk") and shutil.which("wrk") is None:
        if args.loadgen == "wrk":
            print("wrk is not installed: apt-get install -y wrk", file=sys.stderr)
            return 2
        print("NOTE: wrk is not installed (apt-get install -y wrk); falling back to the built-in Python "
              "asyncio load generator, which may itself limit the figures.", flush=True)
        args.loadgen = "python"
    elif args.loadgen == "auto":
        args.loadgen = "wrk"
    if args.pin and (shutil.which("taskset") is None or (os.cpu_count() or 1) < 2):
        print("NOTE: taskset missing or fewer than 2 CPUs: server and load generator are not pinned.")
        args.pin = False

    signal.signal(signal.SIGTERM, _on_signal)
    workdir = Path(tempfile.mkdtemp(prefix="hubbub-bench-"))
    db_dir = Path(args.db_dir) if args.db_dir else workdir
    db_dir.mkdir(parents=True, exist_ok=True)
    outcomes: list[Outcome] = []
    pg_admin_url: str | None = None
    try:
        tool = "asyncio (built in)"
        if args.loadgen == "wrk":
            out = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout
            tool = " ".join(out.split()[:2])
        version = subprocess.run([args.python, "-c", "import sys; print(sys.version.split()[0])"],
                                 capture_output=True, text=True).stdout.strip()
        print(f"Hubbub message-create benchmark: {platform.node()}, {os.cpu_count()} CPUs, Python {version}, "
              f"load generator {tool}")
        if args.pin:
            print(f"server on CPU {args.server_cpus} (taskset: one process, one core), load generator on CPU "
                  f"{args.client_cpus}")
        busy = machine_busy()
        if busy is not None:
            print(f"machine busy before the run: {100 * busy:.0f}% of all CPUs"
                  + ("  <- WARNING: other processes are using the CPUs; figures will be low and noisy"
                     if busy > 0.10 else ""))
        print(f"SQLite synchronous={os.environ.get('HUBBUB_SQLITE_SYNCHRONOUS', 'FULL')}, files in {db_dir}")
        if not args.skip_ceiling:
            outcomes.append(bench_ceiling(args, workdir))
        if not args.skip_sqlite:
            outcomes.append(bench_backend(args, "sqlite", f"sqlite:///{db_dir / 'bench.db'}", workdir))
        if args.postgres_url:
            pg_admin_url = args.postgres_url
            _pg_admin(pg_admin_url, f"DROP DATABASE IF EXISTS {PG_BENCH_DB} WITH (FORCE)",
                      f"CREATE DATABASE {PG_BENCH_DB}")
            print(f"\n(PostgreSQL server is not pinned; it shares the machine's CPUs. Scratch database "
                  f"{PG_BENCH_DB} created.)")
            pg_url = _with_db(args.postgres_url, PG_BENCH_DB)
            outcomes.append(bench_backend(args, "postgresql", pg_url, workdir))
        ok = report(args, outcomes)
        return 0 if ok else 1
    finally:
        _stop_all()
        if pg_admin_url is not None:
            try:
                _pg_admin(pg_admin_url, f"DROP DATABASE IF EXISTS {PG_BENCH_DB} WITH (FORCE)")
            except Exception as exc:  # noqa: BLE001
                print(f"could not drop {PG_BENCH_DB}: {exc}", file=sys.stderr)
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
            if args.db_dir:
                for suffix in ("", "-wal", "-shm"):
                    (db_dir / f"bench.db{suffix}").unlink(missing_ok=True)


if __name__ == "__main__":
    raise SystemExit(main())
