"""Idempotent retries: a POST carrying `I-Twilio-Idempotency-Token` (Twilio's header) or `Idempotency-Key`
is answered once; a retry gets the first answer and writes nothing; reusing the key for a different
request is 422 / 20422."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from .helpers import assert_error_body, nothing_written

HEADERS = ["I-Twilio-Idempotency-Token", "Idempotency-Key"]


def key() -> str:
    return f"retry-{uuid.uuid4()}"


@pytest.mark.parametrize("header", HEADERS)
def test_retried_conversation_create_returns_the_first_answer(server: Any, client: Any, header: str) -> None:
    headers = {header: key()}
    before = server.counts()
    first = server.http("POST", "/v1/Conversations", data={"FriendlyName": "once"}, headers=headers)
    assert first.status_code == 201
    with nothing_written(server):
        second = server.http("POST", "/v1/Conversations", data={"FriendlyName": "once"}, headers=headers)
    assert second.status_code == 201
    assert second.json() == first.json()
    assert server.counts()["conversations"] == before["conversations"] + 1
    assert client.conversations.v1.conversations(first.json()["sid"]).fetch().friendly_name == "once"


@pytest.mark.parametrize("header", HEADERS)
def test_retried_message_create_makes_one_message(
    server: Any, client: Any, conversation: Any, header: str
) -> None:
    path = f"/v1/Conversations/{conversation.sid}/Messages"
    headers = {header: key()}
    answers = [
        server.http("POST", path, data={"Body": "pay £10", "Author": "bob"}, headers=headers)
        for _ in range(3)
    ]
    assert {a.status_code for a in answers} == {201}
    assert answers[0].json() == answers[1].json() == answers[2].json()
    assert [m.sid for m in client.conversations.v1.conversations(conversation.sid).messages.list()] == [
        answers[0].json()["sid"]
    ]
    # a new key is a new message
    fresh = server.http("POST", path, data={"Body": "pay £10", "Author": "bob"}, headers={header: key()})
    assert fresh.status_code == 201 and fresh.json()["index"] == 1


def test_retried_participant_create_is_not_a_conflict(server: Any, conversation: Any) -> None:
    path = f"/v1/Conversations/{conversation.sid}/Participants"
    headers = {"I-Twilio-Idempotency-Token": key()}
    first = server.http("POST", path, data={"Identity": "retry-me"}, headers=headers)
    with nothing_written(server):
        second = server.http("POST", path, data={"Identity": "retry-me"}, headers=headers)
    assert (first.status_code, second.status_code) == (201, 201)
    assert second.json()["sid"] == first.json()["sid"]


def test_retried_update_is_answered_once(server: Any, conversation: Any) -> None:
    path = f"/v1/Conversations/{conversation.sid}"
    headers = {"Idempotency-Key": key()}
    first = server.http("POST", path, data={"FriendlyName": "renamed"}, headers=headers)
    assert first.status_code == 200
    with nothing_written(server):
        second = server.http("POST", path, data={"FriendlyName": "renamed"}, headers=headers)
    assert second.json() == first.json()


@pytest.mark.parametrize("header", HEADERS)
def test_same_key_with_a_different_request_is_422(server: Any, conversation: Any, header: str) -> None:
    headers = {header: key()}
    assert (
        server.http("POST", "/v1/Conversations", data={"FriendlyName": "a"}, headers=headers).status_code
        == 201
    )
    with nothing_written(server):
        assert_error_body(
            server.http("POST", "/v1/Conversations", data={"FriendlyName": "b"}, headers=headers), 422, 20422
        )
        # the same body to another resource is another request too
        assert_error_body(
            server.http(
                "POST", f"/v1/Conversations/{conversation.sid}", data={"FriendlyName": "a"}, headers=headers
            ),
            422,
            20422,
        )
        # an extra field changes the request
        assert_error_body(
            server.http(
                "POST", "/v1/Conversations", data={"FriendlyName": "a", "Attributes": "{}"}, headers=headers
            ),
            422,
            20422,
        )


def test_both_headers_name_the_same_key(server: Any) -> None:
    shared = key()
    first = server.http(
        "POST",
        "/v1/Conversations",
        data={"FriendlyName": "x"},
        headers={"I-Twilio-Idempotency-Token": shared},
    )
    with nothing_written(server):
        second = server.http(
            "POST", "/v1/Conversations", data={"FriendlyName": "x"}, headers={"Idempotency-Key": shared}
        )
    assert second.json()["sid"] == first.json()["sid"]


def test_a_failed_request_does_not_use_up_its_key(server: Any) -> None:
    headers = {"I-Twilio-Idempotency-Token": key()}
    with nothing_written(server):
        assert_error_body(
            server.http("POST", "/v1/Conversations", data={"Attributes": "{broken"}, headers=headers),
            400,
            50006,
        )
    fixed = server.http("POST", "/v1/Conversations", data={"Attributes": "{}"}, headers=headers)
    assert fixed.status_code == 201


def test_keys_belong_to_one_account(server: Any, other_auth: tuple[str, str]) -> None:
    """Another account sending the same key gets its own conversation, never the first account's answer."""
    shared = {"I-Twilio-Idempotency-Token": key()}
    mine = server.http("POST", "/v1/Conversations", data={"FriendlyName": "k"}, headers=shared)
    theirs = server.http(
        "POST",
        "/v1/Conversations",
        data={"FriendlyName": "k"},
        headers=shared,
        auth=other_auth,
    )
    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert theirs.json()["sid"] != mine.json()["sid"]
    assert theirs.json()["account_sid"] == other_auth[0]


def test_delete_ignores_idempotency_keys(server: Any, client: Any) -> None:
    """DELETE carries no idempotency key; a repeated delete is simply a 404."""
    conv = client.conversations.v1.conversations.create()
    headers = {"I-Twilio-Idempotency-Token": key()}
    assert server.http("DELETE", f"/v1/Conversations/{conv.sid}", headers=headers).status_code == 204
    assert_error_body(server.http("DELETE", f"/v1/Conversations/{conv.sid}", headers=headers), 404, 20404)


def test_requests_without_a_key_are_not_deduplicated(server: Any) -> None:
    first = server.http("POST", "/v1/Conversations", data={"FriendlyName": "twice"})
    second = server.http("POST", "/v1/Conversations", data={"FriendlyName": "twice"})
    assert first.json()["sid"] != second.json()["sid"]
