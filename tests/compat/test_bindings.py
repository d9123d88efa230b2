"""Push bindings (/v1/Services/{IS}/Bindings) through the official SDK: list with filters, fetch, delete.

The REST API cannot create bindings: a client creates them when it registers for push notifications. So
these tests insert binding rows straight into the `bindings` table through `server.engine` (the test
harness's own connection to the server's database), then read and delete them over the API.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from sqlalchemy import insert

from hubbub.domain.sids import new_sid
from hubbub.store import schema
from tests.compat.helpers import assert_error_body, nothing_written, twilio_error

FIELDS = {"sid", "account_sid", "chat_service_sid", "credential_sid", "date_created", "date_updated",
          "endpoint", "identity", "binding_type", "message_types", "url"}
MESSAGE_TYPES = ["removed_from_conversation", "new_message", "added_to_conversation"]


def add_binding(server: Any, service: str, identity: str, binding_type: str, *,
                account_sid: str | None = None, credential_sid: str | None = None) -> str:
    """Insert a binding as push registration would (see the module docstring)."""
    sid = new_sid("BS")
    with server.engine.begin() as conn:
        conn.execute(insert(schema.bindings).values(
            sid=sid, account_sid=account_sid or server.account_sid, chat_service_sid=service,
            credential_sid=credential_sid, endpoint=f"{identity}-endpoint-{sid[-6:]}", identity=identity,
            binding_type=binding_type, address=f"device-token-{sid[-8:]}",
            message_types='["removed_from_conversation", "new_message", "added_to_conversation"]',
            date_created=1_477_049_823, date_updated=1_477_049_823))
    return sid


@pytest.fixture
def service(client: Any) -> Iterator[str]:
    """A fresh service for each test, so its binding list holds exactly what the test put there."""
    sid: str = client.conversations.v1.services.create(friendly_name="bindings").sid
    yield sid
    client.conversations.v1.services(sid).delete()


@pytest.fixture
def bindings(server: Any, service: str) -> dict[str, str]:
    """alice on apn and fcm, bob on gcm, carol on twilsock: name → SID."""
    credential = "CR" + "a" * 32
    return {
        "alice-apn": add_binding(server, service, "alice", "apn", credential_sid=credential),
        "alice-fcm": add_binding(server, service, "alice", "fcm", credential_sid=credential),
        "bob-gcm": add_binding(server, service, "bob", "gcm"),
        "carol-twilsock": add_binding(server, service, "carol", "twilsock"),
    }


def test_fetch_binding(server: Any, client: Any, service: str, bindings: dict[str, str]) -> None:
    b = client.conversations.v1.services(service).bindings(bindings["alice-apn"]).fetch()
    assert (b.sid, b.account_sid, b.chat_service_sid) == (bindings["alice-apn"], server.account_sid, service)
    assert (b.identity, b.binding_type, b.credential_sid) == ("alice", "apn", "CR" + "a" * 32)
    assert b.endpoint.startswith("alice-endpoint-")
    assert b.message_types == MESSAGE_TYPES
    assert b.url == f"{server.url}/v1/Services/{service}/Bindings/{b.sid}"
    raw = server.http("GET", f"/v1/Services/{service}/Bindings/{b.sid}").json()
    assert set(raw) == FIELDS
    assert (raw["date_created"], raw["date_updated"]) == ("2016-10-21T11:37:03Z", "2016-10-21T11:37:03Z")


def test_list_all_bindings(server: Any, client: Any, service: str, bindings: dict[str, str]) -> None:
    listed = client.conversations.v1.services(service).bindings.list()
    assert [b.sid for b in listed] == list(bindings.values())
    body = server.http("GET", f"/v1/Services/{service}/Bindings", params={"PageSize": 500}).json()
    assert body["meta"]["key"] == "bindings" and body["meta"]["page_size"] == 100
    assert all(set(b) == FIELDS for b in body["bindings"])


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"binding_type": ["apn"]}, ["alice-apn"]),
        ({"binding_type": ["apn", "gcm"]}, ["alice-apn", "bob-gcm"]),
        ({"identity": ["alice"]}, ["alice-apn", "alice-fcm"]),
        ({"identity": ["bob", "carol"]}, ["bob-gcm", "carol-twilsock"]),
        ({"identity": ["alice", "bob"], "binding_type": ["fcm", "gcm"]}, ["alice-fcm", "bob-gcm"]),
        ({"identity": ["nobody"]}, []),
        ({"binding_type": ["twilsock"], "identity": ["alice"]}, []),
    ],
)
def test_list_filters(client: Any, service: str, bindings: dict[str, str], filters: dict[str, list[str]],
                      expected: list[str]) -> None:
    listed = client.conversations.v1.services(service).bindings.list(**filters)
    assert [b.sid for b in listed] == [bindings[name] for name in expected]


def test_filters_are_echoed_in_page_urls(server: Any, client: Any, service: str,
                                         bindings: dict[str, str]) -> None:
    params = [("BindingType", "apn"), ("BindingType", "fcm"), ("Identity", "alice"), ("PageSize", "1")]
    body = server.http("GET", f"/v1/Services/{service}/Bindings", params=params).json()
    assert [b["sid"] for b in body["bindings"]] == [bindings["alice-apn"]]
    meta = body["meta"]
    for key in ("first_page_url", "url", "next_page_url"):
        url = urlsplit(meta[key])
        assert url.path == f"/v1/Services/{service}/Bindings"
        query = parse_qsl(url.query)
        assert query[:3] == params[:3], meta[key]  # the filters first, as Twilio writes them
        assert ("PageSize", "1") in query
    second = server.http("GET", meta["next_page_url"][len(server.url):]).json()
    assert [b["sid"] for b in second["bindings"]] == [bindings["alice-fcm"]]
    assert second["meta"]["next_page_url"] is None
    # the SDK follows those URLs: paging one at a time keeps the filters
    streamed = client.conversations.v1.services(service).bindings.stream(
        binding_type=["apn", "fcm"], identity=["alice"], page_size=1)
    assert [b.sid for b in streamed] == [bindings["alice-apn"], bindings["alice-fcm"]]


def test_delete_binding(server: Any, client: Any, service: str, bindings: dict[str, str]) -> None:
    ctx = client.conversations.v1.services(service).bindings(bindings["bob-gcm"])
    before = server.count("bindings")
    assert ctx.delete() is True
    assert server.count("bindings") == before - 1
    with twilio_error(404, 20404):
        ctx.fetch()
    with twilio_error(404, 20404):
        ctx.delete()
    remaining = [b.sid for b in client.conversations.v1.services(service).bindings.list()]
    assert bindings["bob-gcm"] not in remaining and len(remaining) == 3


def test_binding_of_another_service_is_404(server: Any, client: Any, service: str, service_sid: str,
                                          bindings: dict[str, str]) -> None:
    # service_sid is the account's default service: the binding is not in it
    ctx = client.conversations.v1.services(service_sid).bindings(bindings["alice-apn"])
    with twilio_error(404, 20404):
        ctx.fetch()
    before = server.count("bindings")
    with nothing_written(server), twilio_error(404, 20404):
        ctx.delete()
    assert server.count("bindings") == before
    assert bindings["alice-apn"] not in {b.sid for b in client.conversations.v1.services(service_sid)
                                         .bindings.list()}


def test_another_accounts_bindings_are_404(server: Any, other_client: Any, other_auth: Any, service: str,
                                           bindings: dict[str, str]) -> None:
    theirs = other_client.conversations.v1.services(service)
    # (the SDK's list() wraps a failed page fetch in a plain TwilioException, so check the raw answer)
    assert_error_body(server.http("GET", f"/v1/Services/{service}/Bindings", auth=other_auth), 404, 20404)
    with twilio_error(404, 20404):
        theirs.bindings(bindings["alice-apn"]).fetch()
    before = server.count("bindings")
    with twilio_error(404, 20404):
        theirs.bindings(bindings["alice-apn"]).delete()
    assert server.count("bindings") == before


@pytest.mark.parametrize(
    "params",
    [
        {"BindingType": "sms"},
        {"BindingType": ["apn", "APN"]},
        {"BindingType": ""},
        {"Identity": "x" * 257},
        {"Identity": ["alice"] * 101},
        {"PageSize": "0"},
    ],
)
def test_bad_list_filters_are_400(server: Any, service: str, params: dict[str, Any]) -> None:
    assert_error_body(server.http("GET", f"/v1/Services/{service}/Bindings", params=params), 400, 20001)


@pytest.mark.parametrize("sid", ["BS" + "0" * 32, "BS123", "CR" + "0" * 32, "nope"])
def test_unknown_binding_is_404(server: Any, service: str, bindings: dict[str, str], sid: str) -> None:
    path = f"/v1/Services/{service}/Bindings/{sid}"
    assert_error_body(server.http("GET", path), 404, 20404)
    before = server.count("bindings")
    assert_error_body(server.http("DELETE", path), 404, 20404)
    assert server.count("bindings") == before


def test_bindings_of_unknown_service_are_404(server: Any) -> None:
    for sid in ("IS" + "0" * 32, "IS-bad"):
        assert_error_body(server.http("GET", f"/v1/Services/{sid}/Bindings"), 404, 20404)


def test_bindings_are_read_only_on_the_list(server: Any, service: str) -> None:
    before = server.count("bindings")
    response = server.http("POST", f"/v1/Services/{service}/Bindings", data={"Identity": "x"})
    assert_error_body(response, 405, 20004)
    assert server.count("bindings") == before


def test_deleting_the_service_deletes_its_bindings(server: Any, client: Any) -> None:
    sid = client.conversations.v1.services.create(friendly_name="short-lived").sid
    made = [add_binding(server, sid, "dora", kind) for kind in ("apn", "fcm")]
    assert len(client.conversations.v1.services(sid).bindings.list()) == 2
    before = server.count("bindings")
    client.conversations.v1.services(sid).delete()
    assert server.count("bindings") == before - len(made)
