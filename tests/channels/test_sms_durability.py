"""What a hard kill, a hung SMSC and TLS do to the SMS channel, against a real SMSC (npm `smpp`):

- an inbound SMS is acknowledged (deliver_sm_resp) only after it is committed: a Hubbub killed before the commit
  leaves the SMSC without an answer, the SMSC delivers it again after the re-bind, and it arrives once;
- an SMS the SMSC delivers again because it never read our answer is not stored twice, while the same text
  sent again later is;
- a kill in the middle of outbound traffic: every SMS reaches the SMSC, at most `max_unrecorded` twice;
- a peer that stops answering enquire_link is detected at the configured interval and re-bound;
- SMPP over TLS with a CA file, and a wrong CA refused with a clear log line and retried.
"""

from __future__ import annotations

import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from hubbub.domain.sms_encoding import encode_gsm7
from tests.channels.conftest import (
    OUR_NUMBER,
    SmsWorld,
    new_phone,
    sms_conversation,
    wait_receipt,
    wait_until,
)


def _bodies(conversation: Any, body: str) -> int:
    return sum(1 for m in conversation.messages.list() if m.body == body)


def _log(world: SmsWorld) -> str:
    return (world.tmp / "server.log").read_text(errors="replace")


def test_inbound_sms_is_acknowledged_only_after_commit_and_survives_a_kill(make_world: Any) -> None:
    world: SmsWorld = make_world()
    smsc = world.smsc
    assert smsc is not None
    phone = new_phone()
    conversation, _ = sms_conversation(world.client(), phone)
    with world.writes_blocked():
        smsc.deliver(phone, OUR_NUMBER, encode_gsm7("kept safe"))
        # an enquire_link sent after the deliver_sm comes back only once Hubbub has read the deliver_sm
        smsc.send(cmd="enquire_link")
        smsc.wait_for(lambda e: e["event"] == "enquire_link_resp", what="the answer to the SMSC's enquire_link")
        assert [e for e in smsc.snapshot() if e["event"] == "deliver_sm_resp"] == [], \
            "the SMS was acknowledged before it was stored"
        world.kill_hubbub()
        smsc.wait_for(lambda e: e["event"] == "closed", what="the session to end with the process")
    world.start_hubbub()
    smsc.wait_for(lambda e: e["event"] == "redeliver", what="the SMSC to deliver the unanswered SMS again")
    smsc.wait_for(lambda e: e["event"] == "deliver_sm_resp" and e["command_status"] == 0,
                  what="the acknowledgement of the redelivered SMS")
    client = world.client()
    conv = client.conversations.v1.conversations(conversation.sid)
    assert _bodies(conv, "kept safe") == 1


def test_sms_delivered_again_after_a_lost_answer_is_stored_once(make_world: Any) -> None:
    world: SmsWorld = make_world()
    smsc = world.smsc
    assert smsc is not None
    phone = new_phone()
    conversation, _ = sms_conversation(world.client(), phone)
    # the SMSC never reads Hubbub's deliver_sm_resp (the link dies as it arrives) ...
    smsc.send(cmd="deliver_sm", source_addr=phone.lstrip("+"), destination_addr=OUR_NUMBER.lstrip("+"),
              short_message_hex=encode_gsm7("only once").hex(), lose_resp=True)
    wait_until(lambda: _bodies(conversation, "only once") == 1, what="the SMS in the conversation")
    smsc.send(cmd="drop_all")
    # ... so after the re-bind it delivers the SMS again, and Hubbub recognises it
    smsc.wait_for(lambda e: e["event"] == "redeliver", what="the redelivery")
    smsc.wait_for(lambda e: e["event"] == "deliver_sm_resp" and e["command_status"] == 0,
                  what="the acknowledgement of the redelivery")
    assert _bodies(conversation, "only once") == 1
    assert "delivered a stored SMS from" in _log(world)
    # the same text sent again by the phone is a new SMS
    smsc.deliver(phone, OUR_NUMBER, encode_gsm7("only once"))
    wait_until(lambda: _bodies(conversation, "only once") == 2, what="the second, genuine SMS")


def test_kill_in_the_middle_of_outbound_traffic_sends_everything_at_least_once(make_world: Any) -> None:
    max_unrecorded = 5
    world: SmsWorld = make_world(connection={"window": 5, "max_unrecorded": max_unrecorded})
    smsc = world.smsc
    assert smsc is not None
    client = world.client()
    conversation = client.conversations.v1.conversations.create(friendly_name="many phones")
    phones = [new_phone() for _ in range(10)]
    for phone in phones:
        conversation.participants.create(messaging_binding_address=phone, messaging_binding_proxy_address=OUR_NUMBER)
    bodies = [f"traffic {i}" for i in range(30)]
    for body in bodies:
        conversation.messages.create(author="agent", body=body)
    total = len(phones) * len(bodies)
    smsc.wait_for(lambda e: e["event"] == "submit_sm", count=40, what="traffic to start")
    world.kill_hubbub()
    before = len(smsc.submits())
    world.start_hubbub()
    wait_until(lambda: world.sql("SELECT count(*) FROM sms_outbound WHERE state = 'sent'")[0][0] == total,
               timeout=120, what=f"{total} SMS sent")
    sent = Counter((e["destination_addr"], bytes.fromhex(e["short_message_hex"]).decode("latin-1"))
                   for e in smsc.submits())
    expected = {(p.lstrip("+"), b) for p in phones for b in bodies}
    assert set(sent) == expected, "an SMS never reached the SMSC"
    assert before < total, "the kill came after the traffic: nothing was tested"
    twice = sum(n - 1 for n in sent.values())
    assert twice <= max_unrecorded, f"{twice} SMS were sent twice"


def test_a_peer_that_stops_answering_enquire_link_is_dropped_and_rebound(make_world: Any) -> None:
    world: SmsWorld = make_world(connection={"enquire_link_interval": 1, "response_timeout": 1})
    smsc = world.smsc
    assert smsc is not None
    smsc.wait_for(lambda e: e["event"] == "enquire_link", what="Hubbub's enquire_link at the configured interval")
    smsc.send(cmd="mute")  # the session stays open, but nothing is answered any more
    # the library alone would wait 30 s for its own enquire_link and 30 s more for the answer
    smsc.wait_bound(count=2, timeout=20)
    assert "no enquire_link_resp within 1 s" in _log(world)
    phone = new_phone()
    conversation, participant = sms_conversation(world.client(), phone)
    message = conversation.messages.create(author="agent", body="after the hang")
    wait_receipt(conversation, message.sid, participant.sid, "sent")
    assert len(smsc.submits(phone)) == 1


def test_a_submit_left_unanswered_drops_the_link_and_is_sent_again(make_world: Any) -> None:
    # enquire_link far apart: only the unanswered submit_sm can notice the hang
    world: SmsWorld = make_world(connection={"enquire_link_interval": 30, "response_timeout": 1})
    smsc = world.smsc
    assert smsc is not None
    phone = new_phone()
    conversation, participant = sms_conversation(world.client(), phone)
    smsc.wait_bound(count=1, timeout=20)
    smsc.send(cmd="mute")  # the session stays open, but nothing is answered any more
    message = conversation.messages.create(author="agent", body="answered at last")
    smsc.wait_bound(count=2, timeout=20)  # dropped after 1 s without submit_sm_resp, then bound again
    assert "no submit_sm_resp within 1 s" in _log(world)
    # the pending submit_sm gave up when the link dropped, and the SMS went out on the new bind
    wait_receipt(conversation, message.sid, participant.sid, "sent")


def _self_signed(directory: Path, name: str) -> tuple[Path, Path]:
    key, cert = directory / f"{name}.key", directory / f"{name}.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True)
    return key, cert


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    directory = tmp_path_factory.mktemp("tls")
    try:
        return {name: _self_signed(directory, name) for name in ("smsc", "stranger")}
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.fail(f"openssl could not make a test certificate: {exc}")


def test_tls_connection_with_a_ca_file(make_world: Any, certificates: dict[str, tuple[Path, Path]]) -> None:
    key, cert = certificates["smsc"]
    world: SmsWorld = make_world(connection={"tls": True, "tls_ca": str(cert), "tls_server_name": "localhost"},
                                 tls=(key, cert))
    smsc = world.smsc
    assert smsc is not None
    phone = new_phone()
    conversation, participant = sms_conversation(world.client(), phone)
    message = conversation.messages.create(author="agent", body="over TLS")
    wait_receipt(conversation, message.sid, participant.sid, "sent")
    assert [bytes.fromhex(e["short_message_hex"]) for e in smsc.submits(phone)] == [b"over TLS"]
    smsc.deliver(phone, OUR_NUMBER, encode_gsm7("back over TLS"))
    wait_until(lambda: _bodies(conversation, "back over TLS") == 1, what="the inbound SMS over TLS")
    assert [e for e in smsc.snapshot() if e["event"] == "tls_error"] == []


def test_tls_with_the_wrong_ca_is_refused_clearly_and_retried(make_world: Any,
                                                              certificates: dict[str, tuple[Path, Path]]) -> None:
    key, cert = certificates["smsc"]
    _, stranger = certificates["stranger"]
    world: SmsWorld = make_world(connection={"tls": True, "tls_ca": str(stranger), "connect_timeout": 2},
                                 tls=(key, cert), bound=False)
    smsc = world.smsc
    assert smsc is not None
    smsc.wait_for(lambda e: e["event"] == "tls_error", count=2, what="two refused TLS handshakes (a retry)")
    log = wait_until(lambda: (lambda text: text if "not trusted" in text else None)(_log(world)),
                     what="the log line")
    assert f"TLS certificate of 127.0.0.1:{world.smsc_port} not trusted: " in log
    assert "check tls_ca" in log
    assert [e for e in smsc.snapshot() if e["event"] == "bind"] == []
