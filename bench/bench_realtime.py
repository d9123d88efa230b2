"""Real-time fan-out benchmark (issue 6): WebSocket clients in one conversation while messages are posted
through REST at a steady rate, against a bare Starlette broadcast measured in the same run; and the memory
cost of idle connections.

    .venv/bin/python bench/bench_realtime.py [--clients 1000] [--rate 30] [--duration 20] [--rounds 1]
        [--idle 10000] [--ws websockets-sansio] [--no-baseline] [--compare-tree DIR] [--no-pin]
        [--profile FILE] [--postgres-url postgresql://…]

1. Two servers, both pinned to CPU 0 (the clients and the poster run on CPU 1): `hubbub serve` on a fresh
   SQLite database, and the baseline `bench/bare_broadcast_app.py` (Starlette + uvicorn, no database: each
   POST encodes one messageAdded-shaped frame and awaits `send_text` to every client). Both use the same
   uvicorn WebSocket implementation (`--ws`) with permessage-deflate off. Hubbub gets an API key and one
   conversation with `--clients` chat participants (distinct identities, added through REST).
   With `--compare-tree DIR`, a second Hubbub from another source tree (its own SQLite database) is
   measured in the same rounds: a before/after comparison under the same machine load.
2. Each round measures the baseline, then each Hubbub, the same way: `--clients` WebSocket connections (a
   minimal raw-asyncio client, so that the load generator's own parsing does not dominate; for Hubbub one
   per participant, with an access token minted by the official `twilio` package), then `--rate` messages
   per second through REST (open loop, from a process of its own on the clients' CPU, so that the
   clients' event loop never delays a POST) for `--duration` seconds. Each client records the arrival time of
   every `messageAdded`. Latency per (message, client): "from POST" = arrival − request sent (an upper
   bound of commit → arrival: includes the create and its commit), "from 201" = arrival − response
   received (a lower bound; the baseline answers after its broadcast, so its "from 201" is negative).
   Clocks: CLOCK_MONOTONIC (system-wide on Linux). Every client must get every message, in order (the
   baseline's concurrent broadcasts interleave, so for it only every message is checked). Server
   CPU per delivered frame = the server's CPU time (all threads) from the first POST until the last
   frame arrived ÷ frames delivered (it includes the REST creates: ~0.1 % of the frames' count).
3. Idle (Hubbub): `--idle` more connections that only connect; server RSS before and after → KiB per
   connection.

Targets (issue): p99 < 60 ms at 1,000 clients; < 40 KiB per idle connection. Exit status 0 when every
client got every message in order.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import multiprocessing
import os
import resource
import secrets
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
ACCOUNT_SID = "AC" + "c3" * 16
AUTH_TOKEN = "bench-realtime-token-" + "0" * 11
DEFAULT_WS = "websockets-sansio"  # what `hubbub serve` uses

# `hubbub serve` with another uvicorn WebSocket implementation (for --ws comparisons only)
_SERVE_WITH_WS = """
import sys, uvicorn
ws = sys.argv.pop(1)
_run = uvicorn.run
def run(app, **kw):
    kw["ws"] = ws
    return _run(app, **kw)
uvicorn.run = run
from hubbub.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class RawClient(asyncio.Protocol):
    """Just enough WebSocket: the upgrade, one masked text frame out, unmasked text frames in."""

    def __init__(self, host: str, port: int, token: str, on_text: Any) -> None:
        self.host, self.port, self.token, self.on_text = host, port, token, on_text
        self.buffer = b""
        self.upgraded = False
        self.synced = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        key = base64.b64encode(secrets.token_bytes(16)).decode()
        transport.write((f"GET /v1/Realtime HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nUpgrade: websocket\r\n"
                         f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
                         ).encode())

    def send_text(self, text: str) -> None:
        payload = text.encode()
        mask = secrets.token_bytes(4)
        n = len(payload)
        header = bytes([0x81]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack("!H", n)
                                  if n < 65536 else bytes([0x80 | 127]) + struct.pack("!Q", n))
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        assert self.transport is not None
        self.transport.write(header + mask + masked)

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        self.buffer += data
        if not self.upgraded:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            assert self.buffer.startswith(b"HTTP/1.1 101"), self.buffer[:200]
            self.buffer = self.buffer[end + 4:]
            self.upgraded = True
            self.send_text(orjson.dumps({"type": "connect", "v": 1, "token": self.token}).decode())
        buffer, at, size = self.buffer, 0, len(self.buffer)
        while size - at >= 2:  # every whole frame in the buffer (an index, not a copy per frame)
            n = buffer[at + 1] & 0x7F
            offset = 2
            if n == 126:
                if size - at < 4:
                    break
                n, offset = struct.unpack_from("!H", buffer, at + 2)[0], 4
            elif n == 127:
                if size - at < 10:
                    break
                n, offset = struct.unpack_from("!Q", buffer, at + 2)[0], 10
            if size - at < offset + n:
                break
            payload = buffer[at + offset:at + offset + n]
            at += offset + n
            if b'"synced"' in payload[:20] and not self.synced.done():
                self.synced.set_result(None)
            elif b'"messageAdded"' in payload:
                self.on_text(payload, now)
        self.buffer = buffer[at:]


async def _connect_many(host: str, port: int, tokens: list[str], on_text: Any, parallel: int = 200
                        ) -> list[RawClient]:
    loop = asyncio.get_running_loop()
    clients: list[RawClient] = []
    semaphore = asyncio.Semaphore(parallel)

    async def one(token: str, sink: Any) -> None:
        async with semaphore:
            _, protocol = await loop.create_connection(lambda: RawClient(host, port, token, sink), host, port)
            await asyncio.wait_for(protocol.synced, 60)
            clients.append(protocol)

    await asyncio.gather(*(one(t, on_text(i)) for i, t in enumerate(tokens)))
    return clients


def _close_all(clients: list[RawClient]) -> None:
    for client in clients:
        assert client.transport is not None
        client.transport.close()


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path
    database_url: str = ""
    conversation: str = ""
    tokens: list[str] = field(default_factory=list)
    token: Callable[[str], str] = str

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _start(name: str, command: list[str], env: dict[str, str], tmp: Path, pin: bool, health: str,
           root: Path = ROOT) -> Server:
    if pin:
        command = ["taskset", "-c", "0", *command]
    log_path = tmp / f"{name}.log"
    process = subprocess.Popen(command, env=env, stdout=log_path.open("wb"), stderr=subprocess.STDOUT, cwd=root,
                               preexec_fn=_raise_fd_limit)
    server = Server(name, process, int(command[command.index("--port") + 1]), log_path)
    deadline = time.monotonic() + 60
    while True:
        try:
            requests.get(server.base + health, timeout=1)
            return server
        except requests.ConnectionError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(log_path.read_text()[-3000:]) from None
            time.sleep(0.1)


@dataclass
class Fanout:
    label: str
    complete: bool
    from_post: list[float]
    from_201: list[float]
    cpu_per_frame_us: float
    server_cpu: float
    client_cpu: float
    rss_mib: float
    frames: int

    def p(self, values: list[float], q: float) -> float:
        return values[min(len(values) - 1, int(len(values) * q))] if values else float("nan")

    def report(self) -> None:
        label, nan = f"  [{self.label}]", float("nan")
        print(f"{label} {'every client got every message' if self.complete else 'MISSING OR OUT OF ORDER'}"
              f"{' in order' if self.complete and self.label != 'bare' else ''}; {self.frames:,} frames")
        print(f"{label} latency from POST: p50 {self.p(self.from_post, .5):.1f} ms  "
              f"p99 {self.p(self.from_post, .99):.1f} ms  max {self.from_post[-1] if self.from_post else nan:.1f} ms")
        print(f"{label} latency from 201:  p50 {self.p(self.from_201, .5):.1f} ms  "
              f"p99 {self.p(self.from_201, .99):.1f} ms  "
              f"(mean {statistics.fmean(self.from_201) if self.from_201 else nan:.1f})")
        print(f"{label} server CPU {self.cpu_per_frame_us:.1f} µs per delivered frame ({self.server_cpu:.0%} of a "
              f"core); clients + poster {self.client_cpu:.0%}; server RSS {self.rss_mib:.0f} MiB", flush=True)


def _post_loop(url: str, auth: Any, author: str | None, count: int, rate: float, start: float
               ) -> dict[int, tuple[float, float]]:
    """In a process of its own (so the clients' event loop never delays a POST): `count` creates at
    `rate` per second from `start` (CLOCK_MONOTONIC), open loop; returns n → (request sent, 201 read)."""
    from concurrent.futures import ThreadPoolExecutor

    sent: dict[int, tuple[float, float]] = {}
    session = requests.Session()
    session.auth = auth

    def post(n: int) -> None:
        t0 = time.monotonic()
        response = session.post(url, data={"Body": str(n)} | ({"Author": author} if author else {}))
        t1 = time.monotonic()
        assert response.status_code == 201, response.text
        sent[n] = (t0, t1)

    with ThreadPoolExecutor(4) as pool:
        for n in range(count):
            time.sleep(max(0.0, start + n / rate - time.monotonic()))
            pool.submit(post, n)
    return sent


async def _fanout(label: str, server: Server, tokens: list[str], post_path: str, author: str | None,
                  auth: Any, args: argparse.Namespace, poster: Any, profile: str | None = None,
                  ordered: bool = True) -> Fanout:
    pid = server.process.pid
    received: list[list[tuple[bytes, float]]] = [[] for _ in tokens]

    def sink(i: int) -> Any:
        def on_text(payload: bytes, now: float) -> None:
            received[i].append((payload, now))  # parsed after the run: the clients' CPU is the bottleneck
        return on_text

    started = time.monotonic()
    rss_before = _rss_kib(pid)
    clients = await _connect_many("127.0.0.1", server.port, tokens, sink)
    print(f"  [{label}] {len(clients)} clients connected in {time.monotonic() - started:.1f} s; server RSS "
          f"{rss_before / 1024:.0f} → {_rss_kib(pid) / 1024:.0f} MiB", flush=True)
    await asyncio.sleep(1)

    count = int(args.rate * args.duration)
    t_start = time.monotonic() + 0.5
    posting = asyncio.wrap_future(poster.submit(_post_loop, server.base + post_path, auth, author, count,
                                                args.rate, t_start))

    profiler = None
    if profile:
        pyspy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        command = [pyspy, "record", "--pid", str(pid), "--duration", str(max(1, int(args.duration) - 1)),
                   "--format", "raw", "--output", profile, "--threads", "--gil", "--rate", "200"]
        print(f"  [{label}] $ {' '.join(command)}", flush=True)
        profiler = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cpu_server, cpu_client = _cpu_seconds(pid), time.process_time()
    sent = await posting
    rss_peak = _rss_kib(pid)
    elapsed = time.monotonic() - t_start
    server_share = (_cpu_seconds(pid) - cpu_server) / elapsed
    client_share = (time.process_time() - cpu_client) / elapsed
    # wait for the stragglers: until every frame arrived, or 15 s without a new one
    frames, last_progress = -1, time.monotonic()
    while any(len(a) < count for a in received):
        now_frames = sum(len(a) for a in received)
        if now_frames != frames:
            frames, last_progress = now_frames, time.monotonic()
        elif time.monotonic() - last_progress > 15:
            break
        await asyncio.sleep(0.05)
    frames = sum(len(a) for a in received)
    cpu_per_frame = (_cpu_seconds(pid) - cpu_server) / max(1, frames) * 1e6
    arrivals: list[list[tuple[int, float, int]]] = []
    for frames_of_client in received:
        messages = [(orjson.loads(payload)["data"]["message"], at) for payload, at in frames_of_client]
        arrivals.append([(int(m["body"]), at, m["index"]) for m, at in messages])
    if profiler is not None:
        profiler.wait(timeout=60)
        print(f"  [{label}] py-spy profile written to {profile}", flush=True)
    # the concurrent POSTs may commit out of their send order: check against the message index (the
    # baseline's concurrent broadcasts interleave, so it is only checked for completeness)
    complete = all(sorted(n for n, _, _ in a) == list(range(count))
                   and (not ordered or [index for _, _, index in a] == sorted(index for _, _, index in a))
                   for a in arrivals)
    if not complete:
        missing = [sorted(set(range(count)) - {n for n, _, _ in a}) for a in arrivals]
        short = [m for m in missing if m]
        print(f"  [{label}] {len(short)} clients missed messages; e.g. {short[0][:10] if short else []}; "
              f"messages missed by every client: {len(set.intersection(*map(set, missing)))}; "
              f"{sum(len(a) != len({n for n, _, _ in a}) for a in arrivals)} clients got duplicates", flush=True)
    from_post = sorted((at - sent[n][0]) * 1000 for a in arrivals for n, at, _ in a if n in sent)
    from_201 = sorted((at - sent[n][1]) * 1000 for a in arrivals for n, at, _ in a if n in sent)
    _close_all(clients)
    await asyncio.sleep(1)
    return Fanout(label, complete, from_post, from_201, cpu_per_frame, server_share, client_share,
                  rss_peak / 1024, frames)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=30.0)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=1, help="fan-out rounds, each measuring every server (1)")
    parser.add_argument("--idle", type=int, default=10000)
    parser.add_argument("--ws", default=DEFAULT_WS, choices=["websockets-sansio", "websockets", "wsproto"],
                        help=f"uvicorn WebSocket implementation of the servers ({DEFAULT_WS}, as `hubbub serve`)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the bare Starlette broadcast")
    parser.add_argument("--compare-tree", metavar="DIR",
                        help="also measure the Hubbub of another source tree in the same rounds (e.g. a commit "
                             "exported with `git archive REV | tar -x -C DIR`)")
    parser.add_argument("--no-pin", action="store_true")
    parser.add_argument("--profile", metavar="FILE", help="py-spy (raw format, --gil) on Hubbub during its first "
                                                          "fan-out; summarise with bench/pyspy_summary.py")
    parser.add_argument("--postgres-url")
    args = parser.parse_args()
    _raise_fd_limit()
    pin = not args.no_pin and shutil.which("taskset") is not None
    if pin:
        os.sched_setaffinity(0, {1})

    tmp = Path(tempfile.mkdtemp(prefix="bench-realtime-"))
    env = dict(os.environ, HUBBUB_ACCOUNT_SID=ACCOUNT_SID, HUBBUB_AUTH_TOKEN=AUTH_TOKEN, HUBBUB_LOG_LEVEL="warning")
    servers: list[Server] = []

    def hubbub(name: str, root: Path) -> Server:
        database_url = args.postgres_url or f"sqlite:///{tmp / (name + '.db')}"
        serve = ["serve", "--port", str(_free_port()), "--database-url", database_url]
        command = ([sys.executable, "-m", "hubbub", *serve] if args.ws == DEFAULT_WS
                   else [sys.executable, "-c", _SERVE_WITH_WS, args.ws, *serve])
        server = _start(name, command, dict(env, PYTHONPATH=str(root)), tmp, pin, "/v1/Configuration", root)
        server.database_url = database_url
        servers.append(server)
        return server

    try:
        hubbub("hubbub", ROOT)
        if args.compare_tree:
            if args.postgres_url:
                raise SystemExit("--compare-tree needs SQLite (each server its own database)")
            hubbub("compared", Path(args.compare_tree).resolve())
        if not args.no_baseline:
            servers.append(_start("bare", [sys.executable, "-m", "uvicorn", "bench.bare_broadcast_app:app",
                                           "--port", str(_free_port()), "--ws", args.ws,
                                           "--ws-per-message-deflate", "false", "--log-level", "warning",
                                           "--no-access-log"], env, tmp, pin, "/health"))
        print("servers: " + ", ".join(f"{s.name} pid {s.process.pid}" for s in servers)
              + f"; uvicorn ws={args.ws}, permessage-deflate off; pinned: {pin}", flush=True)
        return asyncio.run(_bench(args, servers))
    finally:
        for server in servers:
            server.process.terminate()
            server.process.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)


async def _setup(args: Any, server: Server) -> None:
    """An API key, one conversation with `--clients` participants, and their access tokens."""
    from sqlalchemy import create_engine
    from twilio.jwt.access_token import AccessToken
    from twilio.jwt.access_token.grants import ChatGrant

    from hubbub.actions.accounts import do_create_api_key
    from hubbub.store.database import sqlalchemy_url

    engine = create_engine(sqlalchemy_url(server.database_url))
    with engine.begin() as conn:
        key_sid, secret = do_create_api_key(conn, ACCOUNT_SID, "bench")
    engine.dispose()
    base = server.base
    http = requests.Session()
    http.auth = (ACCOUNT_SID, AUTH_TOKEN)
    service = http.get(base + "/v1/Configuration").json()["default_chat_service_sid"]
    server.conversation = http.post(base + "/v1/Conversations", data={"FriendlyName": "bench"}).json()["sid"]
    identities = [f"user{i:05d}" for i in range(args.clients)]
    started = time.monotonic()
    for identity in identities:
        assert http.post(f"{base}/v1/Conversations/{server.conversation}/Participants",
                         data={"Identity": identity}).status_code == 201
    print(f"setup ({server.name}): {args.clients} participants in {time.monotonic() - started:.1f} s", flush=True)

    def token(identity: str) -> str:
        t = AccessToken(ACCOUNT_SID, key_sid, secret, identity=identity, ttl=3600)
        t.add_grant(ChatGrant(service_sid=service))
        return t.to_jwt()  # type: ignore[no-any-return]

    server.token = token
    server.tokens = [token(i) for i in identities]


async def _bench(args: Any, servers: list[Server]) -> int:
    hubbubs = [s for s in servers if s.name != "bare"]
    for server in hubbubs:
        await _setup(args, server)
    runs: dict[str, list[Fanout]] = {s.name: [] for s in servers}
    ok = True
    poster = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))  # on the clients' CPU
    poster.submit(time.monotonic).result()  # started before the first measurement
    for round_ in range(1, args.rounds + 1):
        print(f"round {round_}: {args.clients} clients, {args.rate:g} msg/s for {args.duration:g} s", flush=True)
        for server in sorted(servers, key=lambda s: s.name != "bare"):
            if server.name == "bare":
                result = await _fanout("bare", server, ["-"] * args.clients, "/post", None, None, args, poster,
                                       ordered=False)
            else:
                result = await _fanout(server.name, server, server.tokens,
                                       f"/v1/Conversations/{server.conversation}/Messages", "system",
                                       (ACCOUNT_SID, AUTH_TOKEN), args, poster,
                                       args.profile if round_ == 1 and server.name == "hubbub" else None)
            result.report()
            ok = ok and result.complete
            runs[server.name].append(result)

    names = [s.name for s in sorted(servers, key=lambda s: s.name != "bare")]
    print("\nsummary: latency from POST p50 / p99 (ms), server CPU per delivered frame (µs)")
    print("round  " + "".join(f"{n + ' p50':>14}{n + ' p99':>14}{n + ' µs':>12}" for n in names)
          + ("   p99 hubbub/bare" if "bare" in runs else ""))
    for i in range(args.rounds):
        line = f"{i + 1:>5}  "
        for n in names:
            r = runs[n][i]
            line += f"{r.p(r.from_post, .5):>14.1f}{r.p(r.from_post, .99):>14.1f}{r.cpu_per_frame_us:>12.1f}"
        if "bare" in runs:
            h, b = runs["hubbub"][i], runs["bare"][i]
            line += f"{h.p(h.from_post, .99) / b.p(b.from_post, .99):>18.2f}"
        print(line)
    poster.shutdown()
    best = min(r.p(r.from_post, .99) for r in runs["hubbub"])
    print(f"target (1,000 clients): p99 < 60 ms from POST: {'MET' if best < 60 else 'NOT MET'} "
          f"(best round {best:.1f} ms)", flush=True)

    if args.idle:
        hubbub = hubbubs[0]
        pid = hubbub.process.pid
        rss_before = _rss_kib(pid)
        idle_token = hubbub.token("idle")
        started = time.monotonic()
        idle = await _connect_many("127.0.0.1", hubbub.port, [idle_token] * args.idle, lambda i: (lambda p, t: None))
        await asyncio.sleep(2)
        rss_after = _rss_kib(pid)
        per = (rss_after - rss_before) / max(1, len(idle))
        print(f"idle: {len(idle)} connections in {time.monotonic() - started:.1f} s; server RSS "
              f"{rss_before / 1024:.0f} → {rss_after / 1024:.0f} MiB = {per:.1f} KiB per connection "
              f"(target < 40 KiB: {'met' if per < 40 else 'NOT MET'})", flush=True)
        _close_all(idle)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
