"""Push credentials (/v1/Credentials) through the official SDK: create, fetch, list, update, delete. The
certificate, private key, API key and secret are stored but never returned."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import select

from hubbub.store import schema
from tests.compat.helpers import assert_error_body, nothing_written, twilio_error

FIELDS = {"sid", "account_sid", "friendly_name", "type", "sandbox", "date_created", "date_updated", "url"}
CERTIFICATE = "-----BEGIN CERTIFICATE-----\nMIIFnTCCBIWgAwIBAgIIAjy9H849+E8w\n-----END CERTIFICATE-----"
PRIVATE_KEY = "-----BEGIN RSA PRIVATE KEY-----\nMIIEpQIBAAKCAQEAuyf/lNrH9ck8\n-----END RSA PRIVATE KEY-----"


@pytest.fixture
def create_credential(client: Any) -> Iterator[Callable[..., Any]]:
    """Creates credentials through the SDK and deletes them after the test (the server is shared)."""
    made: list[str] = []

    def create(**kw: Any) -> Any:
        created = client.conversations.v1.credentials.create(**kw)
        made.append(created.sid)
        return created

    yield create
    for sid in made:
        try:
            client.conversations.v1.credentials(sid).delete()
        except Exception:  # noqa: BLE001 - the test already deleted it
            pass


def stored(server: Any, sid: str) -> dict[str, Any]:
    with server.engine.connect() as conn:
        query = select(schema.credentials).where(schema.credentials.c.sid == sid)
        return dict(conn.execute(query).mappings().one())


def test_create_apn_credential(server: Any, create_credential: Any) -> None:
    created = create_credential(type="apn", friendly_name="iOS prod", certificate=CERTIFICATE,
                                 private_key=PRIVATE_KEY, sandbox=True)
    assert re.match(r"^CR[0-9a-f]{32}$", created.sid)
    assert (created.account_sid, created.friendly_name, created.type, created.sandbox) == \
           (server.account_sid, "iOS prod", "apn", "True")
    assert created.url == f"{server.url}/v1/Credentials/{created.sid}"
    raw = server.http("GET", f"/v1/Credentials/{created.sid}")
    assert set(raw.json()) == FIELDS
    # the secrets are kept for the push sender, and never sent back
    assert "BEGIN" not in raw.text and "MIIF" not in raw.text
    row = stored(server, created.sid)
    assert (row["certificate"], row["private_key"]) == (CERTIFICATE, PRIVATE_KEY)


def test_apn_sandbox_defaults_to_production(create_credential: Any) -> None:
    assert create_credential(type="apn").sandbox == "False"
    assert create_credential(type="apn", sandbox=False).sandbox == "False"


def test_create_fcm_and_gcm_credentials(server: Any, create_credential: Any) -> None:
    fcm = create_credential(type="fcm", friendly_name="Android", secret="AAAA-server-key")
    gcm = create_credential(type="gcm", api_key="gcm-api-key")
    assert (fcm.type, fcm.sandbox, fcm.friendly_name) == ("fcm", None, "Android")
    assert (gcm.type, gcm.friendly_name) == ("gcm", None)
    assert stored(server, fcm.sid)["secret"] == "AAAA-server-key"
    assert stored(server, gcm.sid)["api_key"] == "gcm-api-key"
    for sid in (fcm.sid, gcm.sid):
        text = server.http("GET", f"/v1/Credentials/{sid}").text
        assert "server-key" not in text and "gcm-api-key" not in text


def test_fetch_and_list(server: Any, client: Any, create_credential: Any) -> None:
    made = [create_credential(type="fcm", friendly_name=f"c{n}").sid for n in range(3)]
    fetched = client.conversations.v1.credentials(made[0]).fetch()
    assert (fetched.sid, fetched.friendly_name, fetched.type) == (made[0], "c0", "fcm")
    listed = [c.sid for c in client.conversations.v1.credentials.stream(page_size=2)]
    assert [sid for sid in listed if sid in made] == made
    body = server.http("GET", "/v1/Credentials", params={"PageSize": 500}).json()
    assert body["meta"]["key"] == "credentials" and body["meta"]["page_size"] == 100
    assert all(set(c) == FIELDS for c in body["credentials"])


def test_update_credential(server: Any, client: Any, create_credential: Any) -> None:
    created = create_credential(type="apn", friendly_name="before", certificate="old-cert")
    ctx = client.conversations.v1.credentials(created.sid)
    updated = ctx.update(friendly_name="after", sandbox=True, certificate="new-cert")
    assert (updated.friendly_name, updated.type, updated.sandbox) == ("after", "apn", "True")
    assert updated.date_created == created.date_created
    assert updated.date_updated >= created.date_updated
    assert stored(server, created.sid)["certificate"] == "new-cert"
    assert "new-cert" not in server.http("GET", f"/v1/Credentials/{created.sid}").text
    retyped = ctx.update(type="fcm", secret="fcm-secret")
    assert (retyped.type, retyped.friendly_name) == ("fcm", "after")
    assert stored(server, created.sid)["secret"] == "fcm-secret"


def test_delete_credential(server: Any, client: Any, create_credential: Any) -> None:
    created = create_credential(type="fcm")
    before = server.count("credentials")
    assert client.conversations.v1.credentials(created.sid).delete() is True
    assert server.count("credentials") == before - 1
    with twilio_error(404, 20404):
        client.conversations.v1.credentials(created.sid).fetch()
    with twilio_error(404, 20404):
        client.conversations.v1.credentials(created.sid).delete()


def test_accounts_do_not_see_each_others_credentials(
    server: Any, other_client: Any, create_credential: Any
) -> None:
    mine = create_credential(type="fcm", friendly_name="mine")
    assert mine.sid not in {c.sid for c in other_client.conversations.v1.credentials.list()}
    theirs = other_client.conversations.v1.credentials(mine.sid)
    before = stored(server, mine.sid)
    with twilio_error(404, 20404):
        theirs.fetch()
    with twilio_error(404, 20404):
        theirs.update(friendly_name="stolen")
    with twilio_error(404, 20404):
        theirs.delete()
    assert stored(server, mine.sid) == before


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"FriendlyName": "no type"},
        {"Type": ""},
        {"Type": "APN"},
        {"Type": "webpush"},
        {"Type": "apn", "FriendlyName": "x" * 65},
        {"Type": "apn", "Sandbox": "sometimes"},
        {"Type": "fcm", "Secret": "s" * (64 * 1024 + 1)},
        {"Type": "apn", "Certificate": "c" * (64 * 1024 + 1)},
    ],
)
def test_bad_creates_are_rejected(server: Any, data: dict[str, str]) -> None:
    before = server.count("credentials")
    with nothing_written(server):
        assert_error_body(server.http("POST", "/v1/Credentials", data=data), 400, 20001)
    assert server.count("credentials") == before


@pytest.mark.parametrize(
    "data",
    [
        {"Type": "voip"},
        {"FriendlyName": "y" * 65},
        {"Sandbox": "2"},
        {"FriendlyName": "fine", "Type": "nope"},
        {"PrivateKey": "k" * (64 * 1024 + 1)},
        {"ApiKey": "k" * (64 * 1024 + 1)},
    ],
)
def test_bad_updates_change_nothing(server: Any, create_credential: Any, data: dict[str, str]) -> None:
    created = create_credential(type="apn", friendly_name="keep")
    before = stored(server, created.sid)
    with nothing_written(server):
        assert_error_body(server.http("POST", f"/v1/Credentials/{created.sid}", data=data), 400, 20001)
    assert stored(server, created.sid) == before


def test_friendly_name_of_64_characters(create_credential: Any) -> None:
    assert create_credential(type="gcm", friendly_name="f" * 64).friendly_name == "f" * 64


@pytest.mark.parametrize("sid", ["CR" + "0" * 32, "CR123", "IS" + "0" * 32, "garbage"])
def test_unknown_credential_is_404(server: Any, sid: str) -> None:
    assert_error_body(server.http("GET", f"/v1/Credentials/{sid}"), 404, 20404)
    with nothing_written(server):
        response = server.http("POST", f"/v1/Credentials/{sid}", data={"FriendlyName": "x"})
        assert_error_body(response, 404, 20404)
        assert_error_body(server.http("DELETE", f"/v1/Credentials/{sid}"), 404, 20404)
