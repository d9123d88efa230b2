"""The durable queue against a real SMSC (npm `smpp`) that goes away: an SMSC restart and a dropped network in
the middle of traffic, a Hubbub restart while the SMSC is down, expiry, a refused bind, and TX + RX binds."""

from __future__ import annotations

from collections import Counter
from typing import Any

from hubbub.domain.sms_encoding import encode_gsm7
from tests.channels.conftest import (
    OUR_NUMBER,
    Smsc,
    SmsWorld,
    new_phone,
    receipt_of,
    sms_conversation,
    wait_receipt,
    wait_until,
)

WINDOW = 10


def _post_many(world: SmsWorld, count: int) -> list[tuple[Any, Any, Any, str]]:
    client = world.client()
    posted = []
    for _ in range(count):
        phone = new_phone()
        conversation, participant = sms_conversation(client, phone)
        posted.append((conversation, participant, phone))
    return [(c, c.messages.create(author="agent", body=f"traffic for {phone}"), p, phone) for c, p, phone in posted]


def _accepted(smscs: list[Smsc]) -> Counter[str]:
    return Counter(e["destination_addr"] for smsc in smscs for e in smsc.submits())


def test_smsc_restart_in_the_middle_of_traffic_loses_nothing(make_world: Any) -> None:
    world = make_world(connection={"submits_per_second": 25})
    first = world.smsc
    assert first is not None
    client = world.client()
    phones = [new_phone() for _ in range(30)]
    conversations = [sms_conversation(client, phone) for phone in phones]
    messages = [conv.messages.create(author="agent", body=f"traffic {i}") for i, (conv, _) in enumerate(conversations)]
    first.wait_for(lambda e: e["event"] == "submit_sm", count=8, what="traffic to start")
    second = world.restart_smsc(down_for=0.5)
    second.wait_bound()
    for (conversation, participant), message in zip(conversations, messages, strict=True):
        wait_receipt(conversation, message.sid, participant.sid, "sent", timeout=60)
    accepted = _accepted([first, second])
    assert set(accepted) == {p.lstrip("+") for p in phones}, "a message was lost"
    assert len(first.submits()) >= 8 and len(second.submits()) >= 1
    # only what was in flight when the SMSC died (never answered) may have been sent again
    assert sum(n - 1 for n in accepted.values()) <= WINDOW


def test_dropped_connection_rebinds_and_resends_only_unanswered(make_world: Any) -> None:
    world = make_world(connection={"submits_per_second": 25})
    smsc = world.smsc
    assert smsc is not None
    client = world.client()
    phones = [new_phone() for _ in range(20)]
    conversations = [sms_conversation(client, phone) for phone in phones]
    messages = [conv.messages.create(author="agent", body="hello") for conv, _ in conversations]
    smsc.wait_for(lambda e: e["event"] == "submit_sm", count=5, what="traffic to start")
    smsc.send(cmd="drop_all")
    smsc.wait_bound(count=2)
    for (conversation, participant), message in zip(conversations, messages, strict=True):
        wait_receipt(conversation, message.sid, participant.sid, "sent", timeout=60)
    accepted = _accepted([smsc])
    assert set(accepted) == {p.lstrip("+") for p in phones}
    assert sum(n - 1 for n in accepted.values()) <= WINDOW


def test_queue_survives_a_hubbub_restart_while_the_smsc_is_down(make_world: Any) -> None:
    world = make_world()
    assert world.smsc is not None
    world.smsc.stop()
    client = world.client()
    posted = []
    for _ in range(5):
        phone = new_phone()
        conversation, participant = sms_conversation(client, phone)
        posted.append((conversation, participant, conversation.messages.create(author="agent", body="later"), phone))
    wait_until(lambda: world.sql("SELECT count(*) FROM sms_outbound WHERE state = 'queued'")[0][0] == 5,
               what="5 queued SMS")
    for conversation, participant, message, _ in posted:
        assert receipt_of(conversation, message.sid, participant.sid).status is None
    world.restart_hubbub()
    smsc = world.restart_smsc()
    smsc.wait_bound()
    client = world.client()
    for conversation, participant, message, phone in posted:
        conv = client.conversations.v1.conversations(conversation.sid)
        wait_receipt(conv, message.sid, participant.sid, "sent")
        assert len(smsc.submits(phone)) == 1


def test_message_expires_in_the_queue(make_world: Any) -> None:
    world = make_world(extra={"expiry_seconds": 1})
    assert world.smsc is not None
    world.smsc.stop()
    client = world.client()
    phone = new_phone()
    conversation, participant = sms_conversation(client, phone)
    message = conversation.messages.create(author="agent", body="too late")
    receipt = wait_receipt(conversation, message.sid, participant.sid, "failed", timeout=30)
    assert receipt.error_code == 30001
    smsc = world.restart_smsc()
    smsc.wait_bound()
    later = conversation.messages.create(author="agent", body="in time")
    wait_receipt(conversation, later.sid, participant.sid, "sent")
    assert [bytes.fromhex(e["short_message_hex"]) for e in smsc.submits(phone)] == [b"in time"]


def test_refused_bind_is_retried_and_nothing_is_sent(make_world: Any) -> None:
    world = make_world(connection={"password": "wrong", "connect_timeout": 1}, bound=False)
    assert world.smsc is not None
    world.smsc.wait_for(lambda e: e["event"] == "bind" and not e["ok"], count=2, what="two refused binds")
    client = world.client()
    phone = new_phone()
    conversation, participant = sms_conversation(client, phone)
    message = conversation.messages.create(author="agent", body="not yet")
    wait_until(lambda: world.sql("SELECT count(*) FROM sms_outbound WHERE destination = :d", d=phone)[0][0] == 1)
    assert receipt_of(conversation, message.sid, participant.sid).status is None
    assert world.smsc.submits(phone) == []
    log = (world.tmp / "server.log").read_text()
    assert "bind to 127.0.0.1" in log
    # the SMSC's refusal is reported as such (the library alone would only say "bind timed out")
    assert "refused the TRX bind of system_id 'hubbub': ESME_RINVPASWD (0x0e)" in log


def test_separate_transmitter_and_receiver_binds(make_world: Any) -> None:
    world = make_world(connection={"bind": "transmitter+receiver"}, bound=False)
    smsc = world.smsc
    assert smsc is not None
    binds = smsc.wait_for(lambda e: e["event"] == "bind" and e["ok"], count=2, what="TX and RX binds")
    assert {b["type"] for b in binds} == {"bind_transmitter", "bind_receiver"}
    assert {b["system_type"] for b in binds} == {"hubbub"}
    smsc.send(cmd="auto_dlr", stat="DELIVRD", form="tlv")
    client = world.client()
    phone = new_phone()
    conversation, participant = sms_conversation(client, phone)
    message = conversation.messages.create(author="agent", body="over TX")
    wait_receipt(conversation, message.sid, participant.sid, "delivered")
    smsc.deliver(phone, OUR_NUMBER, encode_gsm7("over RX"))
    wait_until(lambda: [m for m in conversation.messages.list() if m.body == "over RX"], what="the MO message")
