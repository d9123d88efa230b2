"""Messages and delivery receipts through the official SDK: indices, authors, receipts for non-chat
participants, the `delivery` summary, edits, deletes, paging through 250 messages in both orders."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from .helpers import assert_error_body, new_number, nothing_written, twilio_error

IM_RE = re.compile(r"^IM[0-9a-f]{32}$")
DY_RE = re.compile(r"^DY[0-9a-f]{32}$")
NO_DELIVERY_YET = {
    "sent": "none",
    "delivered": "none",
    "read": "none",
    "failed": "none",
    "undelivered": "none",
}


def conv_ctx(client: Any, sid: str) -> Any:
    return client.conversations.v1.conversations(sid)


def add_sms(client: Any, conversation_sid: str) -> Any:
    return conv_ctx(client, conversation_sid).participants.create(
        messaging_binding_address=new_number(), messaging_binding_proxy_address=new_number()
    )


def test_system_message_shape(server: Any, client: Any, conversation: Any) -> None:
    m = conv_ctx(client, conversation.sid).messages.create(body="Hello!")
    assert IM_RE.match(m.sid)
    assert m.account_sid == server.account_sid
    assert m.conversation_sid == conversation.sid
    assert m.index == 0
    assert m.author == "system"
    assert m.participant_sid is None
    assert m.body == "Hello!"
    assert m.attributes == "{}"
    assert m.media is None
    assert m.delivery is None  # nobody outside chat to deliver to
    assert m.date_created is not None
    assert m.date_updated is None  # never edited
    assert m.content_sid is None
    assert m.url == f"{server.url}/v1/Conversations/{conversation.sid}/Messages/{m.sid}"
    assert m.links == {
        "delivery_receipts": f"{m.url}/Receipts",
        "channel_metadata": f"{m.url}/ChannelMetadata",
    }


def test_indices_count_up_from_zero(client: Any, conversation: Any) -> None:
    msgs = conv_ctx(client, conversation.sid).messages
    assert [msgs.create(body=f"m{i}").index for i in range(4)] == [0, 1, 2, 3]
    # per conversation
    assert (
        conv_ctx(client, client.conversations.v1.conversations.create().sid)
        .messages.create(body="first")
        .index
        == 0
    )


def test_author_matching_a_participant_gets_its_sid(client: Any, conversation: Any) -> None:
    ctx = conv_ctx(client, conversation.sid)
    alice = ctx.participants.create(identity="alice")
    m = ctx.messages.create(author="alice", body="hi from alice")
    assert (m.author, m.participant_sid) == ("alice", alice.sid)
    stranger = ctx.messages.create(author="not-a-participant", body="who am I")
    assert (stranger.author, stranger.participant_sid) == ("not-a-participant", None)


def test_attributes_and_dates_on_create(client: Any, conversation: Any) -> None:
    created = datetime(2020, 2, 3, 4, 5, 6, tzinfo=UTC)
    m = conv_ctx(client, conversation.sid).messages.create(
        body="old", attributes='{"imported": true}', date_created=created
    )
    assert json.loads(m.attributes) == {"imported": True}
    assert m.date_created == created


def test_message_needs_content(server: Any, client: Any, conversation: Any) -> None:
    with nothing_written(server), twilio_error(400, 50003):
        conv_ctx(client, conversation.sid).messages.create(author="alice")


# -- receipts and the delivery summary -----------------------------------------------------------------


def test_one_receipt_per_non_chat_participant(server: Any, client: Any, conversation: Any) -> None:
    ctx = conv_ctx(client, conversation.sid)
    ctx.participants.create(identity="agent")
    ctx.participants.create(identity="mms-agent", messaging_binding_projected_address=new_number())
    sms_a, sms_b = add_sms(client, conversation.sid), add_sms(client, conversation.sid)
    whatsapp = ctx.participants.create(
        messaging_binding_address="whatsapp:" + new_number(),
        messaging_binding_proxy_address="whatsapp:" + new_number(),
    )
    non_chat = {sms_a.sid, sms_b.sid, whatsapp.sid}

    m = ctx.messages.create(author="agent", body="to everyone")
    assert m.delivery == {"total": 3, **NO_DELIVERY_YET}
    receipts = ctx.messages(m.sid).delivery_receipts.list()
    assert {r.participant_sid for r in receipts} == non_chat
    for r in receipts:
        assert DY_RE.match(r.sid)
        assert (r.message_sid, r.conversation_sid, r.account_sid) == (
            m.sid,
            conversation.sid,
            server.account_sid,
        )
        assert r.status is None and r.error_code == 0 and r.channel_message_sid is None
        assert r.url == f"{m.url}/Receipts/{r.sid}"
        fetched = ctx.messages(m.sid).delivery_receipts(r.sid).fetch()
        assert (fetched.sid, fetched.participant_sid) == (r.sid, r.participant_sid)
    # fetching the message again shows the same summary
    assert ctx.messages(m.sid).fetch().delivery == m.delivery
    assert [x.delivery for x in ctx.messages.list()] == [m.delivery]


def test_the_author_gets_no_receipt(client: Any, conversation: Any) -> None:
    ctx = conv_ctx(client, conversation.sid)
    sms_a, sms_b = add_sms(client, conversation.sid), add_sms(client, conversation.sid)
    m = ctx.messages.create(author=sms_a.messaging_binding["address"], body="from a phone")
    assert m.participant_sid == sms_a.sid
    assert m.delivery == {"total": 1, **NO_DELIVERY_YET}
    assert [r.participant_sid for r in ctx.messages(m.sid).delivery_receipts.list()] == [sms_b.sid]


def test_chat_only_conversation_has_no_receipts(client: Any, conversation: Any) -> None:
    ctx = conv_ctx(client, conversation.sid)
    ctx.participants.create(identity="a")
    ctx.participants.create(identity="b")
    m = ctx.messages.create(author="a", body="chat only")
    assert m.delivery is None
    assert ctx.messages(m.sid).delivery_receipts.list() == []


def test_unknown_receipt_is_404(client: Any, conversation: Any) -> None:
    ctx = conv_ctx(client, conversation.sid)
    add_sms(client, conversation.sid)
    m = ctx.messages.create(body="x")
    with twilio_error(404, 20404):
        ctx.messages(m.sid).delivery_receipts("DY" + "0" * 32).fetch()
    other = ctx.messages.create(body="y")
    receipt = ctx.messages(other.sid).delivery_receipts.list()[0]
    with twilio_error(404, 20404):  # a receipt of another message
        ctx.messages(m.sid).delivery_receipts(receipt.sid).fetch()


# -- update / delete -----------------------------------------------------------------------------------


def test_update_sets_date_updated(client: Any, conversation: Any) -> None:
    ctx = conv_ctx(client, conversation.sid)
    m = ctx.messages.create(body="tpyo", attributes='{"v": 1}')
    assert m.date_updated is None
    edited = ctx.messages(m.sid).update(body="typo")
    assert edited.body == "typo"
    assert edited.attributes == '{"v": 1}'
    assert edited.date_updated is not None and edited.date_updated >= edited.date_created
    assert (edited.index, edited.author) == (m.index, m.author)
    again = ctx.messages(m.sid).update(attributes='{"v": 2}')
    assert (again.body, again.attributes) == ("typo", '{"v": 2}')
    fetched = ctx.messages(m.sid).fetch()
    assert (fetched.body, fetched.attributes, fetched.date_updated) == (
        "typo",
        '{"v": 2}',
        again.date_updated,
    )


def test_update_author_relinks_the_participant(client: Any, conversation: Any) -> None:
    ctx = conv_ctx(client, conversation.sid)
    bob = ctx.participants.create(identity="bob")
    m = ctx.messages.create(body="hello")
    assert ctx.messages(m.sid).update(author="bob").participant_sid == bob.sid


def test_delete_message(server: Any, client: Any, conversation: Any) -> None:
    ctx = conv_ctx(client, conversation.sid)
    add_sms(client, conversation.sid)
    first = ctx.messages.create(body="keep")
    doomed = ctx.messages.create(body="delete me")
    assert ctx.messages(doomed.sid).delete() is True
    with twilio_error(404, 20404):
        ctx.messages(doomed.sid).fetch()
    with twilio_error(404, 20404):
        ctx.messages(doomed.sid).delete()
    with twilio_error(404, 20404):
        ctx.messages(doomed.sid).update(body="zombie")
    assert_error_body(
        server.http("GET", f"/v1/Conversations/{conversation.sid}/Messages/{doomed.sid}/Receipts"), 404, 20404
    )
    assert [m.sid for m in ctx.messages.list()] == [first.sid]
    # indices are never reused
    assert ctx.messages.create(body="after").index == 2


def test_message_of_another_conversation_is_404(client: Any, conversations: Any) -> None:
    first, second = conversations.create(), conversations.create()
    m = conv_ctx(client, first.sid).messages.create(body="mine")
    with twilio_error(404, 20404):
        conv_ctx(client, second.sid).messages(m.sid).fetch()
    with twilio_error(404, 20404):
        conv_ctx(client, second.sid).messages(m.sid).delete()
    assert conv_ctx(client, first.sid).messages(m.sid).fetch().body == "mine"


def test_unknown_message_or_conversation_is_404(server: Any, client: Any, conversation: Any) -> None:
    with twilio_error(404, 20404):
        conv_ctx(client, conversation.sid).messages("IM" + "0" * 32).fetch()
    with nothing_written(server), twilio_error(404, 20404):
        conv_ctx(client, "CH" + "0" * 32).messages.create(body="into the void")


def test_messages_by_conversation_unique_name(client: Any, conversations: Any) -> None:
    conv = conversations.create(unique_name="messages-by-name")
    m = conv_ctx(client, "messages-by-name").messages.create(body="via unique name")
    assert m.conversation_sid == conv.sid
    assert conv_ctx(client, "messages-by-name").messages(m.sid).fetch().body == "via unique name"


# -- paging --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def long_conversation(server: Any) -> str:
    """A conversation with 250 messages, shared by the paging tests of this module (per backend)."""
    client = server.client()
    conv = client.conversations.v1.conversations.create(friendly_name="250 messages")
    msgs = client.conversations.v1.conversations(conv.sid).messages
    for i in range(250):
        msgs.create(body=f"message {i}")
    return str(conv.sid)


def test_stream_250_messages_in_pages_of_50(client: Any, long_conversation: str) -> None:
    seen = list(conv_ctx(client, long_conversation).messages.stream(page_size=50))
    assert [m.index for m in seen] == list(range(250))
    assert [m.body for m in seen] == [f"message {i}" for i in range(250)]
    assert len({m.sid for m in seen}) == 250


def test_list_in_descending_order(client: Any, long_conversation: str) -> None:
    seen = conv_ctx(client, long_conversation).messages.list(order="desc", page_size=50)
    assert [m.index for m in seen] == list(range(249, -1, -1))
    first_ten = conv_ctx(client, long_conversation).messages.list(order="desc", limit=10)
    assert [m.index for m in first_ten] == list(range(249, 239, -1))


def test_page_urls_walk_forward_and_back(server: Any, long_conversation: str) -> None:
    first = server.http("GET", f"/v1/Conversations/{long_conversation}/Messages?PageSize=50").json()
    meta = first["meta"]
    assert (meta["key"], meta["page"], meta["page_size"], meta["previous_page_url"]) == (
        "messages",
        0,
        50,
        None,
    )
    assert meta["first_page_url"].startswith(f"{server.url}/v1/Conversations/{long_conversation}/Messages?")
    pages, url = [], meta["next_page_url"]
    while url:
        assert url.startswith(server.url + "/")
        body = server.http("GET", url[len(server.url) :]).json()
        pages.append(body)
        url = body["meta"]["next_page_url"]
    assert [p["meta"]["page"] for p in pages] == [1, 2, 3, 4]
    assert [m["index"] for p in [first, *pages] for m in p["messages"]] == list(range(250))
    # the previous page of page 2 is page 1
    back = server.http("GET", pages[1]["meta"]["previous_page_url"][len(server.url) :]).json()
    assert [m["index"] for m in back["messages"]] == list(range(50, 100))


def test_order_must_be_asc_or_desc(server: Any, long_conversation: str) -> None:
    assert_error_body(
        server.http("GET", f"/v1/Conversations/{long_conversation}/Messages?Order=sideways"), 400, 20001
    )


# -- service-scoped copies -----------------------------------------------------------------------------


def test_service_scoped_messages_and_receipts(
    server: Any, client: Any, service: Any, service_sid: str, conversation: Any
) -> None:
    svc = service.conversations(conversation.sid)
    sms = svc.participants.create(
        messaging_binding_address=new_number(), messaging_binding_proxy_address=new_number()
    )
    m = svc.messages.create(body="via service", author="system")
    prefix = f"{server.url}/v1/Services/{service_sid}/Conversations/{conversation.sid}"
    assert m.chat_service_sid == service_sid
    assert m.url == f"{prefix}/Messages/{m.sid}"
    assert m.delivery == {"total": 1, **NO_DELIVERY_YET}
    receipts = svc.messages(m.sid).delivery_receipts.list()
    assert [r.participant_sid for r in receipts] == [sms.sid]
    assert receipts[0].chat_service_sid == service_sid
    assert receipts[0].url == f"{prefix}/Messages/{m.sid}/Receipts/{receipts[0].sid}"
    assert svc.messages(m.sid).delivery_receipts(receipts[0].sid).fetch().sid == receipts[0].sid
    assert svc.messages(m.sid).fetch().body == "via service"
    assert [x.sid for x in svc.messages.list(order="desc")] == [m.sid]
    assert svc.messages(m.sid).update(body="edited").body == "edited"
    assert svc.messages(m.sid).delete() is True
    with twilio_error(404, 20404):
        svc.messages(m.sid).fetch()
