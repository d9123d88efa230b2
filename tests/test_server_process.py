"""The server as an operator runs it: start, credentials, API keys, SIGTERM, and crash durability."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from conftest import ACCOUNT_SID, AUTH_TOKEN, free_port, start_server, stop_server
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client


def _sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'hubbub.db'}"


def _read_credentials(proc: subprocess.Popen[str]) -> tuple[str, str]:
    found: dict[str, str] = {}
    for line in proc.stdout:  # type: ignore[union-attr]
        for label in ("Account SID", "Auth Token"):
            if line.strip().startswith(label + ":"):
                found[label] = line.split(":", 1)[1].strip()
        if len(found) == 2:
            return found["Account SID"], found["Auth Token"]
    raise AssertionError("the server did not print its credentials")


def test_first_start_creates_and_prints_credentials(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUBBUB_")}
    proc = subprocess.Popen([sys.executable, "-m", "hubbub", "serve", "--port", str(port),
                             "--database-url", _sqlite_url(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True)
    try:
        sid, token = _read_credentials(proc)
        assert sid.startswith("AC") and len(sid) == 34
        assert len(token) == 32
        client = Client(sid, token, environment={"HUBBUB_TEST": "1"})
        client.conversations.base_url = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                conf = client.conversations.v1.configuration().fetch()
                break
            except Exception:
                time.sleep(0.1)
        assert conf.default_chat_service_sid.startswith("IS")
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    # A restart keeps the same account.
    proc = subprocess.Popen([sys.executable, "-m", "hubbub", "serve", "--port", str(port),
                             "--database-url", _sqlite_url(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True)
    try:
        assert _read_credentials(proc) == (sid, token)
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def test_sigterm_exits_cleanly(tmp_path: Path) -> None:
    proc, url = start_server(_sqlite_url(tmp_path), tmp_path / "log")
    requests.post(url + "/v1/Conversations", data={"FriendlyName": "x"}, auth=(ACCOUNT_SID, AUTH_TOKEN),
                  timeout=10).raise_for_status()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=15) == 0


def test_api_key_created_by_cli_authenticates(tmp_path: Path) -> None:
    url_db = _sqlite_url(tmp_path)
    proc, url = start_server(url_db, tmp_path / "log")
    try:
        env = dict(os.environ, HUBBUB_ACCOUNT_SID=ACCOUNT_SID, HUBBUB_AUTH_TOKEN=AUTH_TOKEN)
        out = subprocess.run([sys.executable, "-m", "hubbub", "keys", "create", "--database-url", url_db,
                              "--friendly-name", "ci"], capture_output=True, text=True, env=env, check=True)
        fields = dict(line.split(":", 1) for line in out.stdout.strip().splitlines())
        key_sid, secret = fields["API key SID"].strip(), fields["Secret"].strip()
        assert key_sid.startswith("SK") and len(key_sid) == 34
        client = Client(key_sid, secret, ACCOUNT_SID, environment={"HUBBUB_TEST": "1"})
        client.conversations.base_url = url
        conv = client.conversations.v1.conversations.create(friendly_name="via key")
        assert conv.account_sid == ACCOUNT_SID
        bad = Client(key_sid, secret + "x", ACCOUNT_SID, environment={"HUBBUB_TEST": "1"})
        bad.conversations.base_url = url
        with pytest.raises(TwilioRestException) as err:
            bad.conversations.v1.conversations.create(friendly_name="nope")
        assert (err.value.status, err.value.code) == (401, 20003)
    finally:
        stop_server(proc)


def test_acknowledged_messages_survive_sigkill(tmp_path: Path) -> None:
    """Every 201 the server sent before it was killed is in the database after a restart."""
    db_url = _sqlite_url(tmp_path)
    proc, url = start_server(db_url, tmp_path / "log")
    auth = (ACCOUNT_SID, AUTH_TOKEN)
    conv = requests.post(url + "/v1/Conversations", data={"UniqueName": "durable"}, auth=auth,
                         timeout=10).json()["sid"]
    acknowledged: list[str] = []
    session = requests.Session()

    def post(i: int) -> None:
        try:
            r = session.post(f"{url}/v1/Conversations/{conv}/Messages", data={"Body": f"m{i}"}, auth=auth,
                             timeout=10)
        except requests.RequestException:
            return
        if r.status_code == 201:
            acknowledged.append(r.json()["sid"])

    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(post, i) for i in range(400)]
        while len(acknowledged) < 150:
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        for f in futures:
            f.result()
    proc, url = start_server(db_url, tmp_path / "log")
    try:
        stored: set[str] = set()
        next_url: str | None = f"{url}/v1/Conversations/{conv}/Messages?PageSize=100"
        while next_url:
            page = requests.get(next_url, auth=auth, timeout=10).json()
            stored.update(m["sid"] for m in page["messages"])
            indices = [m["index"] for m in page["messages"]]
            assert indices == sorted(indices)
            next_url = page["meta"]["next_page_url"]
        assert set(acknowledged) <= stored
        assert len(acknowledged) >= 150
    finally:
        stop_server(proc)
