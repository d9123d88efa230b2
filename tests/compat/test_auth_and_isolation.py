"""Authentication and account isolation: wrong or missing credentials get 401/20003, and one account's
conversations, participants and messages are invisible to another (404, never 403)."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from .helpers import assert_error_body, new_number, nothing_written, twilio_error

ZERO_CH = "CH" + "0" * 32


@pytest.fixture
def theirs(client: Any) -> dict[str, str]:
    """A conversation of the main account with a participant, an SMS participant and a message."""
    conv = client.conversations.v1.conversations.create(friendly_name="private")
    ctx = client.conversations.v1.conversations(conv.sid)
    p = ctx.participants.create(identity="owner")
    ctx.participants.create(messaging_binding_address=new_number(), messaging_binding_proxy_address=new_number())
    m = ctx.messages.create(author="owner", body="secret")
    receipt = ctx.messages(m.sid).delivery_receipts.list()[0]
    service = client.conversations.v1.configuration().fetch().default_chat_service_sid
    return {
        "conv": conv.sid,
        "participant": p.sid,
        "message": m.sid,
        "receipt": receipt.sid,
        "service": service,
    }


# -- credentials ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "credentials",
    [
        ("ACa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1", "wrong-token"),
        ("AC" + "9" * 32, "hubbub-test-token-" + "0" * 14),  # an unknown account with the right token
        ("SK" + "0" * 32, "some-secret"),  # an unknown API key
        ("not-a-sid", "x"),
    ],
)
def test_wrong_credentials_are_401(server: Any, credentials: tuple[str, str]) -> None:
    client = server.client(*credentials)
    with twilio_error(401, 20003):
        client.conversations.v1.conversations(ZERO_CH).fetch()
    with twilio_error(401, 20003):
        client.conversations.v1.configuration().fetch()
    with nothing_written(server), twilio_error(401, 20003):
        client.conversations.v1.conversations.create(friendly_name="intruder")


def test_another_accounts_token_does_not_work_for_this_account(server: Any) -> None:
    client = server.client(server.account_sid, "other-account-token-" + "1" * 12)
    with twilio_error(401, 20003):
        client.conversations.v1.configuration().fetch()


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer abc",
        "Basic",
        "Basic !!!not-base64!!!",
        "Basic " + base64.b64encode(b"no-colon").decode(),
        "Basic " + base64.b64encode(b"ACa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1:").decode(),
        "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode(),
    ],
)
def test_missing_or_malformed_credentials_are_401(server: Any, header: str | None) -> None:
    import requests

    headers = {} if header is None else {"Authorization": header}
    with nothing_written(server):
        for method, path, data in [
            ("GET", "/v1/Conversations", None),
            ("POST", "/v1/Conversations", {"FriendlyName": "x"}),
            ("GET", "/v1/Configuration", None),
            ("DELETE", f"/v1/Conversations/{ZERO_CH}", None),
        ]:
            response = requests.request(method, server.url + path, headers=headers, data=data, timeout=30)
            assert_error_body(response, 401, 20003)


def test_credentials_are_checked_before_the_path(server: Any) -> None:
    """An unauthenticated caller learns nothing about which resources exist."""
    import requests

    for path in ["/v1/Conversations/" + ZERO_CH, "/v1/Services/IS" + "0" * 32 + "/Conversations"]:
        assert_error_body(requests.get(server.url + path, timeout=30), 401, 20003)


# -- isolation -----------------------------------------------------------------------------------------


def test_other_account_cannot_read_or_change_anything(
    server: Any, other_client: Any, theirs: dict[str, str], client: Any
) -> None:
    v1 = other_client.conversations.v1
    conv = v1.conversations(theirs["conv"])
    with nothing_written(server):
        for action in [
            conv.fetch,
            lambda: conv.update(friendly_name="hijacked"),
            conv.delete,
            lambda: conv.participants.create(identity="spy"),
            lambda: conv.participants(theirs["participant"]).fetch(),
            lambda: conv.participants("owner").fetch(),
            lambda: conv.participants(theirs["participant"]).update(attributes='{"x": 1}'),
            conv.participants(theirs["participant"]).delete,
            lambda: conv.messages.create(body="injected"),
            lambda: conv.messages(theirs["message"]).fetch(),
            lambda: conv.messages(theirs["message"]).update(body="rewritten"),
            conv.messages(theirs["message"]).delete,
            lambda: conv.messages(theirs["message"]).delivery_receipts(theirs["receipt"]).fetch(),
        ]:
            with twilio_error(404, 20404):
                action()
    # the owner still sees everything unchanged
    assert client.conversations.v1.conversations(theirs["conv"]).fetch().friendly_name == "private"
    assert client.conversations.v1.conversations(theirs["conv"]).messages(theirs["message"]).fetch().body == "secret"


def test_other_account_lists_are_404_or_empty(
    server: Any, other_client: Any, other_auth: tuple[str, str], theirs: dict[str, str]
) -> None:

    base = f"/v1/Conversations/{theirs['conv']}"
    for path in [f"{base}/Participants", f"{base}/Messages", f"{base}/Messages/{theirs['message']}/Receipts"]:
        assert_error_body(server.http("GET", path, auth=other_auth), 404, 20404)
    listed = [c.sid for c in other_client.conversations.v1.conversations.stream()]
    assert theirs["conv"] not in listed


def test_other_account_cannot_use_this_accounts_service(server: Any, other_client: Any, theirs: dict[str, str]) -> None:
    svc = other_client.conversations.v1.services(theirs["service"])
    with nothing_written(server):
        with twilio_error(404, 20404):
            svc.conversations.create(friendly_name="in someone else's service")
        with twilio_error(404, 20404):
            svc.conversations(theirs["conv"]).fetch()
        with twilio_error(404, 20404):
            svc.conversations(theirs["conv"]).messages.create(body="x")


def test_unique_names_and_number_pairs_are_per_account(client: Any, other_client: Any) -> None:
    mine = client.conversations.v1.conversations.create(unique_name="shared-name")
    other = other_client.conversations.v1.conversations.create(unique_name="shared-name")
    assert mine.sid != other.sid
    assert other_client.conversations.v1.conversations("shared-name").fetch().sid == other.sid
    assert client.conversations.v1.conversations("shared-name").fetch().sid == mine.sid

    address, proxy = new_number(), new_number()
    client.conversations.v1.conversations(mine.sid).participants.create(
        messaging_binding_address=address, messaging_binding_proxy_address=proxy
    )
    # another account has its own phone numbers: the pair is not taken there
    other_client.conversations.v1.conversations(other.sid).participants.create(
        messaging_binding_address=address, messaging_binding_proxy_address=proxy
    )
