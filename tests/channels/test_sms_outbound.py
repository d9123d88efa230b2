"""Outbound SMS against a real SMSC (npm `smpp`): what goes on the wire, receipts, delivery receipts (DLRs)
and throttling. Messages are posted with the official twilio SDK; PDUs are checked as the SMSC saw them."""

from __future__ import annotations

import json
from typing import Any

from hubbub.domain.sms_encoding import encode_gsm7, encode_ucs2, split_for_sms
from tests.channels.conftest import (
    OUR_NUMBER,
    SmsWorld,
    new_phone,
    receipt_of,
    sms_conversation,
    wait_receipt,
    wait_until,
)


def _submits(world: SmsWorld, phone: str, count: int = 1) -> list[dict[str, Any]]:
    assert world.smsc is not None
    return world.smsc.wait_for(lambda e: e["event"] == "submit_sm" and e["command_status"] == 0
                               and e["destination_addr"] == phone.lstrip("+"), count=count,
                               what=f"{count} submit_sm to {phone}")


def _reassemble(parts: list[dict[str, Any]]) -> tuple[bytes, set[int]]:
    """The concatenated payload (by UDH sequence number) and the set of references used."""
    chunks: dict[int, bytes] = {}
    refs: set[int] = set()
    total = None
    for part in parts:
        data = bytes.fromhex(part["short_message_hex"])
        assert part["esm_class"] & 0x40, "a part without the UDH indicator"
        assert data[:3] == bytes([5, 0, 3]), data[:6].hex()
        refs.add(data[3])
        total = data[4] if total is None else total
        assert data[4] == total == len(parts)
        chunks[data[5]] = data[6:]
    assert sorted(chunks) == list(range(1, len(parts) + 1))
    return b"".join(chunks[i] for i in sorted(chunks)), refs


def test_gsm_message_on_the_wire_and_receipt_sent(world: SmsWorld) -> None:
    client = world.client()
    phone = new_phone()
    conversation, participant = sms_conversation(client, phone)
    body = "Hello {there} @ £5 €"
    message = conversation.messages.create(author="agent", body=body)
    [pdu] = _submits(world, phone)
    assert pdu["source_addr"] == OUR_NUMBER.lstrip("+")
    assert (pdu["source_addr_ton"], pdu["source_addr_npi"], pdu["dest_addr_ton"], pdu["dest_addr_npi"]) == (1, 1, 1, 1)
    assert pdu["data_coding"] == 0
    assert pdu["esm_class"] == 0
    assert pdu["registered_delivery"] == 1
    assert bytes.fromhex(pdu["short_message_hex"]) == encode_gsm7(body)
    assert pdu["validity_period"]  # the queue's expiry is passed on to the SMSC
    receipt = wait_receipt(conversation, message.sid, participant.sid, "sent")
    assert receipt.channel_message_sid.startswith("SM") and len(receipt.channel_message_sid) == 34
    assert receipt.error_code == 0
    fetched = conversation.messages(message.sid).fetch()
    assert fetched.delivery["sent"] == "all" and fetched.delivery["total"] == 1
    # the change was published for webhooks
    events = world.sql("SELECT payload FROM events WHERE type = 'onDeliveryUpdated'")
    payloads = [json.loads(p)["data"]["receipt"] for (p,) in events]
    assert any(p["sid"] == receipt.sid and p["status"] == "sent" for p in payloads)


def test_ucs2_message(world: SmsWorld) -> None:
    client = world.client()
    phone = new_phone()
    conversation, participant = sms_conversation(client, phone)
    body = "Привет 👋"
    conversation.messages.create(author="agent", body=body)
    [pdu] = _submits(world, phone)
    assert pdu["data_coding"] == 8
    assert pdu["esm_class"] == 0
    assert bytes.fromhex(pdu["short_message_hex"]) == encode_ucs2(body)


def test_smart_encoding_keeps_a_message_in_gsm7(world: SmsWorld) -> None:
    client = world.client()
    phone = new_phone()
    conversation, _ = sms_conversation(client, phone)
    conversation.messages.create(author="agent", body="“Quoted” — it’s fine…")
    [pdu] = _submits(world, phone)
    assert pdu["data_coding"] == 0
    assert bytes.fromhex(pdu["short_message_hex"]) == encode_gsm7("\"Quoted\" - it's fine...")


def test_long_gsm_body_goes_as_concatenated_parts(world: SmsWorld) -> None:
    client = world.client()
    phone = new_phone()
    conversation, participant = sms_conversation(client, phone)
    body = ("The quick brown fox jumps over the lazy dog; ESC pairs like [brackets] and {braces} "
            "must never be split across parts. ") * 4
    message = conversation.messages.create(author="agent", body=body)
    expected_parts = len(split_for_sms(body, True, ref=0))
    assert expected_parts == 4
    parts = _submits(world, phone, expected_parts)
    assert len(parts) == expected_parts
    assert {p["data_coding"] for p in parts} == {0}
    assert {p["esm_class"] for p in parts} == {0x40}
    assert {p["registered_delivery"] for p in parts} == {1}
    payload, refs = _reassemble(parts)
    assert len(refs) == 1
    assert payload == encode_gsm7(body)
    for part in parts:
        data = bytes.fromhex(part["short_message_hex"])[6:]
        assert len(data) <= 153
        assert data[-1:] != b"\x1b"  # an escape pair is never split
    wait_receipt(conversation, message.sid, participant.sid, "sent")


def test_long_ucs2_body_keeps_surrogate_pairs_whole(world: SmsWorld) -> None:
    client = world.client()
    phone = new_phone()
    conversation, _ = sms_conversation(client, phone)
    body = "Ünïcödé 😀 " * 20
    conversation.messages.create(author="agent", body=body)
    count = len(split_for_sms(body, True, ref=0))
    parts = _submits(world, phone, count)
    assert {p["data_coding"] for p in parts} == {8}
    payload, _ = _reassemble(parts)
    assert payload == encode_ucs2(body)
    for part in parts:
        data = bytes.fromhex(part["short_message_hex"])[6:]
        assert len(data) <= 134
        assert not 0xD8 <= data[-2] <= 0xDB  # never ends on a high surrogate


def test_every_sms_participant_gets_it_from_its_proxy_number(world: SmsWorld) -> None:
    client = world.client()
    first, second = new_phone(), new_phone()
    conversation, _ = sms_conversation(client, first)
    conversation.participants.create(messaging_binding_address=second,
                                     messaging_binding_proxy_address="+15005550099")
    conversation.participants.create(identity="agent-x")
    conversation.messages.create(author="agent-x", body="to both")
    [a] = _submits(world, first)
    [b] = _submits(world, second)
    assert a["source_addr"] == "15005550006"
    assert b["source_addr"] == "15005550099"


def test_number_without_smpp_connection_fails_the_receipt(world: SmsWorld) -> None:
    client = world.client()
    phone = new_phone()
    conversation, participant = sms_conversation(client, phone, proxy="+14155550100")
    message = conversation.messages.create(author="agent", body="nowhere to go")
    receipt = wait_receipt(conversation, message.sid, participant.sid, "failed")
    assert receipt.error_code == 21606
    assert conversation.messages(message.sid).fetch().delivery["failed"] == "all"
    assert world.smsc is not None and not world.smsc.submits(phone)


def test_delivery_receipt_tlv_form_marks_delivered(world: SmsWorld) -> None:
    assert world.smsc is not None
    world.smsc.send(cmd="auto_dlr", stat="DELIVRD", form="tlv")
    try:
        client = world.client()
        phone = new_phone()
        conversation, participant = sms_conversation(client, phone)
        message = conversation.messages.create(author="agent", body="deliver me")
        receipt = wait_receipt(conversation, message.sid, participant.sid, "delivered")
        assert receipt.error_code == 0
        assert conversation.messages(message.sid).fetch().delivery["delivered"] == "all"
    finally:
        world.smsc.send(cmd="auto_dlr", stat=None)


def test_delivery_receipt_text_form_undelivered_with_error(world: SmsWorld) -> None:
    assert world.smsc is not None
    world.smsc.send(cmd="auto_dlr", stat="UNDELIV", form="text")
    try:
        client = world.client()
        phone = new_phone()
        conversation, participant = sms_conversation(client, phone)
        message = conversation.messages.create(author="agent", body="no phone there")
        receipt = wait_receipt(conversation, message.sid, participant.sid, "undelivered")
        assert receipt.error_code == 30003
        delivery = conversation.messages(message.sid).fetch().delivery
        assert delivery["undelivered"] == "all" and delivery["sent"] == "none"
    finally:
        world.smsc.send(cmd="auto_dlr", stat=None)


def test_concatenated_message_is_delivered_when_every_part_is(world: SmsWorld) -> None:
    assert world.smsc is not None
    client = world.client()
    phone = new_phone()
    conversation, participant = sms_conversation(client, phone)
    message = conversation.messages.create(author="agent", body="x" * 300)
    parts = _submits(world, phone, 2)
    wait_receipt(conversation, message.sid, participant.sid, "sent")

    def dlr(part: dict[str, Any]) -> None:
        assert world.smsc is not None
        world.smsc.deliver(phone, OUR_NUMBER, f"id:{part['message_id']} stat:DELIVRD err:000".encode(),
                           esm_class=4, receipted_message_id=part["message_id"], message_state=2)

    dlr(parts[0])
    world.smsc.wait_for(lambda e: e["event"] == "deliver_sm_resp", what="the DLR to be acknowledged")
    assert receipt_of(conversation, message.sid, participant.sid).status == "sent"
    dlr(parts[1])
    wait_receipt(conversation, message.sid, participant.sid, "delivered")


def test_throttled_submits_are_retried_and_sent_once(world: SmsWorld) -> None:
    assert world.smsc is not None
    world.smsc.send(cmd="throttle_next", count=4)
    client = world.client()
    phones = [new_phone() for _ in range(3)]
    sent = []
    for phone in phones:
        conversation, participant = sms_conversation(client, phone)
        sent.append((conversation, conversation.messages.create(author="agent", body=f"hi {phone}"), participant))
    for conversation, message, participant in sent:
        wait_receipt(conversation, message.sid, participant.sid, "sent")
    throttled = [e for e in world.smsc.snapshot() if e["event"] == "submit_sm" and e["command_status"] == 0x58]
    assert len(throttled) == 4
    for phone in phones:
        assert len(world.smsc.submits(phone)) == 1


def test_receipts_of_chat_participants_are_untouched(world: SmsWorld) -> None:
    client = world.client()
    phone = new_phone()
    conversation, participant = sms_conversation(client, phone)
    conversation.participants.create(identity="reader")
    message = conversation.messages.create(author="agent", body="hello")
    wait_receipt(conversation, message.sid, participant.sid, "sent")
    receipts = conversation.messages(message.sid).delivery_receipts.list()
    assert [r.participant_sid for r in receipts] == [participant.sid]
    wait_until(lambda: len(_submits(world, phone)) == 1)
