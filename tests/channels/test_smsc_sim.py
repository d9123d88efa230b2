"""`hubbub smsc-sim` (pure Python, no Node.js): the developer quickstart of docs/sms.md, end to end — a chat
message reaches the simulated phone (printed, then a delivery receipt), and a reply posted to the simulator's
HTTP endpoint lands in the conversation."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.channels.conftest import OUR_NUMBER, new_phone, sms_config, sms_conversation, wait_receipt, wait_until
from tests.conftest import free_port, start_server, stop_server


class Sim:
    def __init__(self) -> None:
        self.port, self.http_port = free_port(), free_port()
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "hubbub", "smsc-sim", "--port", str(self.port), "--http-port", str(self.http_port),
             "--no-stdin", "--dlr-delay", "0.1"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        threading.Thread(target=self._read, daemon=True).start()
        try:
            wait_until(lambda: any("listening" in line for line in self.lines), what="the simulator")
        except BaseException:
            self.stop()
            raise

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture(scope="module")
def sim_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Sim, str, Any]]:
    tmp: Path = tmp_path_factory.mktemp("smsc-sim")
    sim = Sim()
    try:
        process, url = start_server(f"sqlite:///{tmp / 'hubbub.db'}", tmp / "server.log",
                                    {"HUBBUB_SMS_CONFIG": sms_config(sim.port, system_id="dev", password="pw")})
    except BaseException:
        sim.stop()
        raise
    try:
        wait_until(lambda: any(line.startswith("bound: dev") for line in sim.lines), what="Hubbub to bind")
        from twilio.rest import Client

        from tests.conftest import ACCOUNT_SID, AUTH_TOKEN

        client = Client(ACCOUNT_SID, AUTH_TOKEN)
        client.conversations.base_url = url
        yield sim, url, client
    finally:
        stop_server(process)
        sim.stop()
    assert sim.process.returncode in (0, -15), "\n".join(sim.lines)


def test_chat_message_reaches_the_simulated_phone_and_is_delivered(sim_world: tuple[Sim, str, Any]) -> None:
    sim, _, client = sim_world
    phone = new_phone()
    conversation, participant = sms_conversation(client, phone)
    message = conversation.messages.create(author="agent", body="Hello from the agent, ünïcode ✓")
    wait_until(lambda: f"SMS {OUR_NUMBER} -> {phone}: Hello from the agent, ünïcode ✓" in sim.lines,
               what="the simulator to print the SMS")
    wait_receipt(conversation, message.sid, participant.sid, "delivered")


def test_long_message_is_printed_reassembled(sim_world: tuple[Sim, str, Any]) -> None:
    sim, _, client = sim_world
    phone = new_phone()
    conversation, _ = sms_conversation(client, phone)
    body = "A long message. " * 20
    conversation.messages.create(author="agent", body=body)
    wait_until(lambda: f"SMS {OUR_NUMBER} -> {phone} (3 parts): {body}" in sim.lines, what="the reassembled SMS")


def test_inbound_sms_from_the_http_endpoint(sim_world: tuple[Sim, str, Any]) -> None:
    sim, _, client = sim_world
    phone = new_phone()
    conversation, participant = sms_conversation(client, phone)
    reply = "Thanks! " * 30  # two concatenated parts
    answer = requests.post(f"http://127.0.0.1:{sim.http_port}/inbound", data={"From": phone, "To": OUR_NUMBER,
                                                                              "Body": reply}, timeout=10)
    assert answer.status_code == 201 and answer.json()["parts"] == 2
    [message] = wait_until(lambda: conversation.messages.list() or None, what="the reply in the conversation")
    assert message.body == reply
    assert message.author == phone and message.participant_sid == participant.sid
    bad = requests.post(f"http://127.0.0.1:{sim.http_port}/inbound", data={"From": phone}, timeout=10)
    assert bad.status_code == 400
