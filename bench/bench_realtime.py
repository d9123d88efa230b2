"""Real-time fan-out benchmark (issue 6): WebSocket clients in one conversation while messages are posted
through REST at a steady rate; and the memory cost of idle connections.

    .venv/bin/python bench/bench_realtime.py [--clients 1000] [--rate 30] [--duration 20] [--idle 10000]
        [--no-pin] [--postgres-url postgresql://…]

1. `hubbub serve` on a fresh SQLite database (pinned to CPU 0; the clients and the poster to CPU 1), an API
   key, one conversation with `--clients` chat participants (distinct identities, added through REST).
2. Fan-out: `--clients` WebSocket connections (a minimal raw-asyncio WebSocket client, so that the load
   generator's own parsing does not dominate), one per participant, each connected with an access token
   minted by the official `twilio` package. Then `--rate` messages per second through REST (open loop)
   for `--duration` seconds. Each client records the arrival time of every `messageAdded`. Latency per
   (message, client): "from POST" = arrival − request sent (upper bound of commit → arrival: includes the
   create and its commit), "from 201" = arrival − response received (lower bound; negative when the
   event beat the response). Clocks: CLOCK_MONOTONIC (system-wide on Linux). Every client must get every
   message, in order.
3. Idle: `--idle` more connections that only connect; server RSS before and after → KiB per connection.

Targets (issue): p99 < 60 ms at 1,000 clients; < 40 KiB per idle connection. Exit status 0 when every
client got every message in order.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
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
from pathlib import Path
from typing import Any

import orjson
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
ACCOUNT_SID = "AC" + "c3" * 16
AUTH_TOKEN = "bench-realtime-token-" + "0" * 11


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
        while len(self.buffer) >= 2:
            n = self.buffer[1] & 0x7F
            offset = 2
            if n == 126:
                if len(self.buffer) < 4:
                    return
                n, offset = struct.unpack("!H", self.buffer[2:4])[0], 4
            elif n == 127:
                if len(self.buffer) < 10:
                    return
                n, offset = struct.unpack("!Q", self.buffer[2:10])[0], 10
            if len(self.buffer) < offset + n:
                return
            payload = self.buffer[offset:offset + n]
            self.buffer = self.buffer[offset + n:]
            if b'"synced"' in payload[:20] and not self.synced.done():
                self.synced.set_result(None)
            elif b'"messageAdded"' in payload:
                self.on_text(payload, now)


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=30.0)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--idle", type=int, default=10000)
    parser.add_argument("--no-pin", action="store_true")
    parser.add_argument("--postgres-url")
    args = parser.parse_args()
    _raise_fd_limit()

    from twilio.jwt.access_token import AccessToken
    from twilio.jwt.access_token.grants import ChatGrant

    tmp = Path(tempfile.mkdtemp(prefix="bench-realtime-"))
    database_url = args.postgres_url or f"sqlite:///{tmp / 'bench.db'}"
    port = _free_port()
    env = dict(os.environ, HUBBUB_ACCOUNT_SID=ACCOUNT_SID, HUBBUB_AUTH_TOKEN=AUTH_TOKEN, HUBBUB_LOG_LEVEL="warning")
    command = [sys.executable, "-m", "hubbub", "serve", "--port", str(port), "--database-url", database_url]
    pin = not args.no_pin and shutil.which("taskset") is not None
    if pin:
        command = ["taskset", "-c", "0", *command]
        os.sched_setaffinity(0, {1})
    log = (tmp / "server.log").open("wb")
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
                              preexec_fn=_raise_fd_limit)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(base + "/v1/Configuration", timeout=1)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError((tmp / "server.log").read_text()[-3000:]) from None
                time.sleep(0.1)
        return asyncio.run(_bench(args, base, port, server.pid, tmp, AccessToken, ChatGrant))
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)


async def _bench(args: Any, base: str, port: int, pid: int, tmp: Path, AccessToken: Any, ChatGrant: Any) -> int:
    from sqlalchemy import create_engine

    from hubbub.actions.accounts import do_create_api_key
    from hubbub.store.database import sqlalchemy_url

    database_url = args.postgres_url or f"sqlite:///{tmp / 'bench.db'}"
    engine = create_engine(sqlalchemy_url(database_url))
    with engine.begin() as conn:
        key_sid, secret = do_create_api_key(conn, ACCOUNT_SID, "bench")
    engine.dispose()
    http = requests.Session()
    http.auth = (ACCOUNT_SID, AUTH_TOKEN)
    service = http.get(base + "/v1/Configuration").json()["default_chat_service_sid"]
    conv = http.post(base + "/v1/Conversations", data={"FriendlyName": "bench"}).json()["sid"]
    identities = [f"user{i:05d}" for i in range(args.clients)]
    started = time.monotonic()
    for identity in identities:
        assert http.post(f"{base}/v1/Conversations/{conv}/Participants", data={"Identity": identity}).status_code == 201
    print(f"setup: {args.clients} participants in {time.monotonic() - started:.1f} s", flush=True)

    def token(identity: str) -> str:
        t = AccessToken(ACCOUNT_SID, key_sid, secret, identity=identity, ttl=3600)
        t.add_grant(ChatGrant(service_sid=service))
        return t.to_jwt()  # type: ignore[no-any-return]

    arrivals: list[list[tuple[int, float, int]]] = [[] for _ in identities]

    def sink(i: int) -> Any:
        def on_text(payload: bytes, now: float) -> None:
            message = orjson.loads(payload)["data"]["message"]
            arrivals[i].append((int(message["body"]), now, message["index"]))
        return on_text

    rss_before = _rss_kib(pid)
    started = time.monotonic()
    clients = await _connect_many("127.0.0.1", port, [token(i) for i in identities], sink)
    rss_connected = _rss_kib(pid)
    print(f"fan-out: {len(clients)} clients connected in {time.monotonic() - started:.1f} s; server RSS "
          f"{rss_before / 1024:.0f} → {rss_connected / 1024:.0f} MiB", flush=True)

    count = int(args.rate * args.duration)
    sent: dict[int, tuple[float, float]] = {}
    loop = asyncio.get_running_loop()
    poster = requests.Session()
    poster.auth = (ACCOUNT_SID, AUTH_TOKEN)

    def post(n: int) -> None:
        t0 = time.monotonic()
        response = poster.post(f"{base}/v1/Conversations/{conv}/Messages", data={"Author": "system", "Body": str(n)})
        t1 = time.monotonic()
        assert response.status_code == 201, response.text
        sent[n] = (t0, t1)

    cpu_server, cpu_client = _cpu_seconds(pid), time.process_time()
    t_start = time.monotonic()
    pending = []
    for n in range(count):
        due = t_start + n / args.rate
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        pending.append(loop.run_in_executor(None, post, n))
    await asyncio.gather(*pending)
    rss_peak = _rss_kib(pid)
    elapsed = time.monotonic() - t_start
    cpu_server = (_cpu_seconds(pid) - cpu_server) / elapsed
    cpu_client = (time.process_time() - cpu_client) / elapsed
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(len(a) < count for a in arrivals):
        await asyncio.sleep(0.1)
    # the concurrent POSTs may commit out of their send order: check against the message index
    complete = all(sorted(n for n, _, _ in a) == list(range(count))
                   and [index for _, _, index in a] == sorted(index for _, _, index in a) for a in arrivals)
    from_post = sorted((at - sent[n][0]) * 1000 for a in arrivals for n, at, _ in a if n in sent)
    from_201 = sorted((at - sent[n][1]) * 1000 for a in arrivals for n, at, _ in a if n in sent)

    def pct(values: list[float], p: float) -> float:
        return values[min(len(values) - 1, int(len(values) * p))] if values else float("nan")

    print(f"fan-out: {count} messages at {args.rate}/s to {len(clients)} clients: "
          f"{'every client got every message in order' if complete else 'MISSING OR OUT OF ORDER'}")
    print(f"  latency from POST: p50 {pct(from_post, .5):.1f} ms  p99 {pct(from_post, .99):.1f} ms  "
          f"max {from_post[-1] if from_post else float('nan'):.1f} ms")
    print(f"  latency from 201:  p50 {pct(from_201, .5):.1f} ms  p99 {pct(from_201, .99):.1f} ms  "
          f"(mean {statistics.fmean(from_201) if from_201 else float('nan'):.1f})")
    print(f"  server RSS: {rss_peak / 1024:.0f} MiB during the run; CPU: server {cpu_server:.0%} of a core, "
          f"clients + poster {cpu_client:.0%}", flush=True)
    for client in clients:
        assert client.transport is not None
        client.transport.close()
    await asyncio.sleep(1)

    if args.idle:
        rss_before = _rss_kib(pid)
        idle_token = token("idle")
        started = time.monotonic()
        idle = await _connect_many("127.0.0.1", port, [idle_token] * args.idle, lambda i: (lambda p, t: None))
        await asyncio.sleep(2)
        rss_after = _rss_kib(pid)
        per = (rss_after - rss_before) / max(1, len(idle))
        print(f"idle: {len(idle)} connections in {time.monotonic() - started:.1f} s; server RSS "
              f"{rss_before / 1024:.0f} → {rss_after / 1024:.0f} MiB = {per:.1f} KiB per connection", flush=True)
        for client in idle:
            assert client.transport is not None
            client.transport.close()
    return 0 if complete else 1


if __name__ == "__main__":
    sys.exit(main())
