"""Media store: upload throughput against a same-run durable-write baseline, and the cost a MediaSid
adds to a message create.

    .venv/bin/python bench/bench_media.py [--size-mib 8] [--files 12] [--creates 400]

1. Uploads: `--files` uploads of `--size-mib` MiB each, one at a time (requests, Content-Length body), to
   a fresh SQLite server on this machine. Baseline, measured in the same run on the same file system:
   writing the same bytes to a file, fsync, rename, fsync of the directory (what every upload must do at
   least). Prints MiB/s for both, the ratio, and the server's CPU seconds per uploaded MiB.
2. Message creates, one client, alternating batches: `--creates` with `Body` only and `--creates` with
   `Body` + one `MediaSid` (each media uploaded beforehand). Prints mean latency and server CPU per
   create for both and their ratio. (The no-media path runs no media query at all; this shows what
   attaching one costs.)
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import free_port  # noqa: E402

ACCOUNT = "AC" + secrets.token_hex(16)
TOKEN = secrets.token_hex(16)
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def start(tmp: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = dict(os.environ, HUBBUB_ACCOUNT_SID=ACCOUNT, HUBBUB_AUTH_TOKEN=TOKEN, HUBBUB_LOG_LEVEL="warning",
               HUBBUB_MEDIA_DIR=str(tmp / "media"))
    process = subprocess.Popen([sys.executable, "-m", "hubbub", "serve", "--port", str(port),
                                "--database-url", f"sqlite:///{tmp / 'bench.db'}"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            requests.get(url + "/v1/Configuration", timeout=1)
            return process, url
        except requests.ConnectionError:
            time.sleep(0.05)
    raise SystemExit("server did not start")


def baseline_write(directory: Path, data: bytes, n: int) -> float:
    directory.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    for i in range(n):
        tmp, final = directory / f"{i}.tmp", directory / f"{i}"
        with open(tmp, "wb") as f:
            for offset in range(0, len(data), 1 << 20):
                f.write(data[offset:offset + (1 << 20)])
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, final)
        fd = os.open(directory, os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=8)
    parser.add_argument("--files", type=int, default=12)
    parser.add_argument("--creates", type=int, default=400)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=ROOT) as tmp_name:
        tmp = Path(tmp_name)
        process, url = start(tmp)
        try:
            session = requests.Session()
            session.auth = (ACCOUNT, TOKEN)
            service = session.get(url + "/v1/Configuration").json()["default_chat_service_sid"]
            data = os.urandom(args.size_mib << 20)
            total_mib = args.size_mib * args.files

            base = baseline_write(tmp / "baseline", data, args.files)
            cpu0, started = cpu_seconds(process.pid), time.perf_counter()
            for _ in range(args.files):
                r = session.post(f"{url}/v1/Services/{service}/Media", data=data,
                                 headers={"Content-Type": "application/octet-stream"})
                assert r.status_code == 201, r.text
            upload = time.perf_counter() - started
            upload_cpu = cpu_seconds(process.pid) - cpu0
            print(f"uploads: {total_mib / upload:,.1f} MiB/s ({args.files} × {args.size_mib} MiB); "
                  f"baseline write+fsync+rename {total_mib / base:,.1f} MiB/s; ratio {base / upload:.2f}; "
                  f"server CPU {upload_cpu / total_mib * 1000:.1f} ms per MiB")

            conv = session.post(url + "/v1/Conversations", data={"FriendlyName": "bench"}).json()["sid"]
            messages = f"{url}/v1/Conversations/{conv}/Messages"
            media = [session.post(f"{url}/v1/Services/{service}/Media", data=b"x" * 1024,
                                  headers={"Content-Type": "image/png"}).json()["sid"]
                     for _ in range(args.creates)]
            timing = {"body only": [0.0, 0.0], "body + MediaSid": [0.0, 0.0]}
            batch = 50
            for start_at in range(0, args.creates, batch):
                for kind in timing:
                    cpu0, t0 = cpu_seconds(process.pid), time.perf_counter()
                    for i in range(start_at, min(start_at + batch, args.creates)):
                        form = {"Author": "alice", "Body": "hello"}
                        if kind != "body only":
                            form["MediaSid"] = media[i]
                        r = session.post(messages, data=form)
                        assert r.status_code == 201, r.text
                    timing[kind][0] += time.perf_counter() - t0
                    timing[kind][1] += cpu_seconds(process.pid) - cpu0
            for kind, (wall, cpu) in timing.items():
                print(f"message create, {kind}: {wall / args.creates * 1000:.2f} ms mean latency, "
                      f"server CPU {cpu / args.creates * 1000:.2f} ms per create")
            plain, with_media = timing["body only"], timing["body + MediaSid"]
            print(f"ratio with / without media: latency {with_media[0] / plain[0]:.2f}, "
                  f"CPU {with_media[1] / max(plain[1], 1e-9):.2f}")
        finally:
            process.terminate()
            process.wait(timeout=15)


if __name__ == "__main__":
    main()
