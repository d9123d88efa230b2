"""Inbound SMS from a real SMSC (npm `smpp`): decoding, reassembly (UDH and SAR TLVs), routing by number pair,
reactivation, auto-creation through address configurations, the unrouted log, and opt-out keywords."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from hubbub.channels.sms.config import HELP_REPLY, START_REPLY, STOP_REPLY
from hubbub.domain.sms_encoding import encode_gsm7, encode_ucs2
from tests.channels.conftest import (
    OTHER_NUMBER,
    OUR_NUMBER,
    SmsWorld,
    new_phone,
    sms_conversation,
    wait_receipt,
    wait_until,
)
from tests.conftest import OTHER_ACCOUNT_SID, OTHER_AUTH_TOKEN


def _messages(conversation: Any, count: int = 1) -> list[Any]:
    return wait_until(lambda: (lambda m: m if len(m) >= count else None)(conversation.messages.list()),
                      what=f"{count} message(s) in {conversation.sid}")


def _replies(world: SmsWorld, phone: str, count: int = 1) -> list[str]:
    assert world.smsc is not None
    found = world.smsc.wait_for(lambda e: e["event"] == "submit_sm" and e["command_status"] == 0
                                and e["destination_addr"] == phone.lstrip("+"), count=count,
                                what=f"{count} SMS to {phone}")
    texts = []
    for pdu in found:
        data = bytes.fromhex(pdu["short_message_hex"])
        texts.append(data.decode("utf-16-be") if pdu["data_coding"] == 8 else data.decode("latin-1"))
    return texts


def test_reply_lands_in_the_conversation_authored_by_the_sender(world: SmsWorld) -> None:
    assert world.smsc is not None
    client = world.client()
    phone = new_phone()
    conversation, participant = sms_conversation(client, phone)
    world.smsc.deliver(phone, OUR_NUMBER, encode_gsm7("Hi! Price €5 [ok]?"))
    [message] = _messages(conversation)
    assert message.body == "Hi! Price €5 [ok]?"
    assert message.author == phone
    assert message.participant_sid == participant.sid


def test_sms_author_is_not_sent_its_own_message(world: SmsWorld) -> None:
    assert world.smsc is not None
    client = world.client()
    phone, other = new_phone(), new_phone()
    conversation, _ = sms_conversation(client, phone)
    second = conversation.participants.create(messaging_binding_address=other,
                                              messaging_binding_proxy_address=OTHER_NUMBER)
    world.smsc.deliver(phone, OUR_NUMBER, encode_gsm7("from the phone"))
    [message] = _messages(conversation)
    wait_receipt(conversation, message.sid, second.sid, "sent")
    assert _replies(world, other) == ["from the phone"]
    assert world.smsc.submits(phone) == []
    assert [r.participant_sid for r in conversation.messages(message.sid).delivery_receipts.list()] == [second.sid]


def test_inactive_conversation_is_reactivated(world: SmsWorld) -> None:
    assert world.smsc is not None
    client = world.client()
    phone = new_phone()
    conversation, _ = sms_conversation(client, phone)
    conversation.update(state="inactive")
    world.smsc.deliver(phone, OUR_NUMBER, encode_gsm7("wake up"))
    _messages(conversation)
    assert conversation.fetch().state == "active"


def test_closed_conversation_no_longer_binds_the_pair(world: SmsWorld) -> None:
    assert world.smsc is not None
    client = world.client()
    phone = new_phone()
    closed, _ = sms_conversation(client, phone)
    closed.update(state="closed")
    current, _ = sms_conversation(client, phone)
    world.smsc.deliver(phone, OUR_NUMBER, encode_gsm7("which one?"))
    assert [m.body for m in _messages(current)] == ["which one?"]
    assert closed.messages.list() == []


def test_concatenated_ucs2_with_udh_arrives_as_one_message(world: SmsWorld) -> None:
    assert world.smsc is not None
    client = world.client()
    phone = new_phone()
    conversation, _ = sms_conversation(client, phone)
    text = "Здравствуйте! " * 8 + "👍"
    data = encode_ucs2(text)
    half = 134
    chunks = [data[i:i + half] for i in range(0, len(data), half)]
    for seq in reversed(range(1, len(chunks) + 1)):  # out of order
        udh = bytes([5, 0, 3, 0x7A, len(chunks), seq])
        world.smsc.deliver(phone, OUR_NUMBER, udh + chunks[seq - 1], esm_class=0x40, data_coding=8)
    [message] = _messages(conversation)
    assert message.body == text


def test_concatenated_gsm_with_sar_tlvs_arrives_as_one_message(world: SmsWorld) -> None:
    assert world.smsc is not None
    client = world.client()
    phone = new_phone()
    conversation, _ = sms_conversation(client, phone)
    chunks = ["First half, ", "second half."]
    for seq, chunk in enumerate(chunks, start=1):
        world.smsc.deliver(phone, OUR_NUMBER, encode_gsm7(chunk), sar_msg_ref_num=513, sar_total_segments=2,
                           sar_segment_seqnum=seq)
    [message] = _messages(conversation)
    assert message.body == "First half, second half."


def test_latin1_inbound_is_decoded(world: SmsWorld) -> None:
    assert world.smsc is not None
    client = world.client()
    phone = new_phone()
    conversation, _ = sms_conversation(client, phone)
    world.smsc.deliver(phone, OUR_NUMBER, "Ça coûte 5 ¥".encode("latin-1"), data_coding=3)
    assert _messages(conversation)[0].body == "Ça coûte 5 ¥"


@pytest.fixture
def auto_number(world: SmsWorld) -> Any:
    """An address configuration that auto-creates conversations for OTHER_NUMBER; removed afterwards."""
    created: list[Any] = []

    def make(**kw: Any) -> Any:
        config = world.client().conversations.v1.address_configurations.create(
            type="sms", address=OTHER_NUMBER, auto_creation_enabled=True, **kw)
        created.append(config)
        return config

    yield make
    for config in created:
        config.delete()


def _conversation_of(world: SmsWorld, phone: str) -> Any:
    client = world.client()
    rows = wait_until(lambda: world.sql("SELECT conversation_sid FROM participants WHERE address = :a", a=phone),
                      what=f"a conversation with {phone}")
    return client.conversations.v1.conversations(rows[0][0]).fetch()


def test_auto_creation_default(world: SmsWorld, auto_number: Any) -> None:
    assert world.smsc is not None
    auto_number(auto_creation_type="default")
    phone = new_phone()
    world.smsc.deliver(phone, OTHER_NUMBER, encode_gsm7("new here"))
    conversation = _conversation_of(world, phone)
    [participant] = conversation.participants.list()
    assert participant.messaging_binding["address"] == phone
    assert participant.messaging_binding["proxy_address"] == OTHER_NUMBER
    [message] = _messages(conversation)
    assert message.body == "new here" and message.author == phone and message.participant_sid == participant.sid
    # later replies route to it, and messages posted to it go out from OTHER_NUMBER
    world.smsc.deliver(phone, OTHER_NUMBER, encode_gsm7("again"))
    assert [m.body for m in _messages(conversation, 2)] == ["new here", "again"]
    conversation.messages.create(author="agent", body="welcome")
    assert _replies(world, phone) == ["welcome"]


def test_auto_creation_webhook_attaches_a_scoped_webhook(world: SmsWorld, auto_number: Any) -> None:
    assert world.smsc is not None
    auto_number(auto_creation_type="webhook", auto_creation_webhook_url="http://127.0.0.1:9/sms",
                auto_creation_webhook_method="POST", auto_creation_webhook_filters=["onMessageAdded"])
    phone = new_phone()
    world.smsc.deliver(phone, OTHER_NUMBER, encode_gsm7("hook me"))
    conversation = _conversation_of(world, phone)
    [webhook] = conversation.webhooks.list()
    assert webhook.target == "webhook"
    assert webhook.configuration["url"] == "http://127.0.0.1:9/sms"
    assert webhook.configuration["filters"] == ["onMessageAdded"]
    assert _messages(conversation)[0].body == "hook me"


def test_unrouted_inbound_is_logged_and_listed(world: SmsWorld) -> None:
    assert world.smsc is not None
    phone = new_phone()
    world.smsc.deliver(phone, "+15005550042", encode_gsm7("anyone?"))
    auth = (world.server.account_sid, world.server.auth_token)

    def listed() -> Any:
        page = requests.get(f"{world.url}/hubbub/v1/Sms/Unrouted", auth=auth, timeout=10).json()
        return [m for m in page["unrouted_messages"] if m["from"] == phone]

    [entry] = wait_until(listed, what="the unrouted entry")
    assert entry["to"] == "+15005550042"
    assert entry["body"] == "anyone?"
    assert entry["num_segments"] == 1
    assert entry["sid"].startswith("SM")
    assert entry["url"] == f"{world.url}/hubbub/v1/Sms/Unrouted/{entry['sid']}"
    assert requests.get(entry["url"], auth=auth, timeout=10).json() == entry
    # another account sees neither the list entry nor the entry itself
    other = (OTHER_ACCOUNT_SID, OTHER_AUTH_TOKEN)
    page = requests.get(f"{world.url}/hubbub/v1/Sms/Unrouted", auth=other, timeout=10).json()
    assert all(m["from"] != phone for m in page["unrouted_messages"])
    missing = requests.get(entry["url"], auth=other, timeout=10)
    assert missing.status_code == 404 and missing.json()["code"] == 20404
    assert requests.get(f"{world.url}/hubbub/v1/Sms/Unrouted", timeout=10).status_code == 401
    bad = requests.get(f"{world.url}/hubbub/v1/Sms/Unrouted?PageSize=x", auth=auth, timeout=10)
    assert bad.status_code == 400 and bad.json()["code"] == 20001


def test_stop_blocks_replies_once_and_start_unblocks(world: SmsWorld) -> None:
    assert world.smsc is not None
    client = world.client()
    phone = new_phone()
    conversation, participant = sms_conversation(client, phone)
    world.smsc.deliver(phone, OUR_NUMBER, encode_gsm7("stop"))
    assert _replies(world, phone) == [STOP_REPLY]
    # the keyword itself still reaches the conversation
    assert [m.body for m in _messages(conversation)] == ["stop"]
    blocked = conversation.messages.create(author="agent", body="are you there?")
    receipt = wait_receipt(conversation, blocked.sid, participant.sid, "failed")
    assert receipt.error_code == 21610
    world.smsc.deliver(phone, OUR_NUMBER, encode_gsm7("STOP"))  # no second confirmation
    _messages(conversation, 2)
    world.smsc.deliver(phone, OUR_NUMBER, encode_gsm7("Start"))
    assert _replies(world, phone, 2) == [STOP_REPLY, START_REPLY]
    allowed = conversation.messages.create(author="agent", body="welcome back")
    wait_receipt(conversation, allowed.sid, participant.sid, "sent")
    assert _replies(world, phone, 3)[-1] == "welcome back"
    assert len(world.smsc.submits(phone)) == 3


@pytest.mark.parametrize("word", ["STOPALL", "unsubscribe", "Cancel", "END", "quit", "REVOKE", "optout"])
def test_every_stop_keyword_blocks(world: SmsWorld, word: str) -> None:
    assert world.smsc is not None
    phone = new_phone()
    world.smsc.deliver(phone, OUR_NUMBER, encode_gsm7(f" {word} "))
    assert _replies(world, phone) == [STOP_REPLY]
    assert world.sql("SELECT count(*) FROM sms_opt_outs WHERE address = :a", a=phone)[0][0] == 1


def test_help_and_non_keywords(world: SmsWorld) -> None:
    assert world.smsc is not None
    client = world.client()
    phone = new_phone()
    conversation, participant = sms_conversation(client, phone)
    world.smsc.deliver(phone, OUR_NUMBER, encode_gsm7("STOP please"))  # not a single keyword
    world.smsc.deliver(phone, OUR_NUMBER, encode_gsm7("info"))
    assert _replies(world, phone) == [HELP_REPLY]
    # (SMS has no ordering guarantee, and the SMPP library may hand over two quick deliver_sm either way)
    assert sorted(m.body for m in _messages(conversation, 2)) == ["STOP please", "info"]
    message = conversation.messages.create(author="agent", body="still subscribed")
    wait_receipt(conversation, message.sid, participant.sid, "sent")


def test_configured_language_keyword_and_reply(world: SmsWorld) -> None:
    assert world.smsc is not None
    phone = new_phone()
    world.smsc.deliver(phone, OUR_NUMBER, encode_gsm7("arret"))
    assert _replies(world, phone) == ["Vous êtes désinscrit."]
    world.smsc.deliver(phone, OUR_NUMBER, encode_gsm7("ARRETNON"))
    assert _replies(world, phone, 2)[-1] == START_REPLY
    wait_until(lambda: world.sql("SELECT count(*) FROM sms_opt_outs WHERE address = :a", a=phone)[0][0] == 0)
