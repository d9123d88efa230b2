"""Paths and links: unknown paths are 404 and wrong methods 405, both with Twilio's JSON error body;
`url`, `links` and page URLs are absolute, point back at this server and honour X-Forwarded-Proto /
X-Forwarded-Host."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from .helpers import assert_error_body, nothing_written

ZERO = "0" * 32


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/v1",
        "/v1/",
        "/v2/Conversations",
        "/v1/Nope",
        "/v1/conversations",
        "/v1/Conversations/CH" + ZERO + "/Nope",
        "/v1/Configuration/Nope",
        "/v1/Conversations/CH" + ZERO + "/Messages/IM" + ZERO + "/Receipts/DY" + ZERO + "/More",
        "/v1/Services/IS" + ZERO + "/Nope",
    ],
)
def test_unknown_paths_are_404_json(server: Any, path: str) -> None:
    for method in ("GET", "POST", "DELETE"):
        assert_error_body(server.http(method, path), 404, 20404)


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/v1/Conversations", "GET, POST"),
        ("PATCH", "/v1/Conversations", "GET, POST"),
        ("DELETE", "/v1/Conversations", "GET, POST"),
        ("PUT", "/v1/Conversations/CH" + ZERO, "DELETE, GET, POST"),
        ("PUT", "/v1/Configuration", "GET, POST"),
        ("DELETE", "/v1/Configuration", "GET, POST"),
        ("POST", "/v1/Conversations/CH" + ZERO + "/Messages/IM" + ZERO + "/Receipts", "GET"),
        ("DELETE", "/v1/Conversations/CH" + ZERO + "/Messages/IM" + ZERO + "/Receipts/DY" + ZERO, "GET"),
        ("PUT", "/v1/Services/IS" + ZERO + "/Conversations", "GET, POST"),
    ],
)
def test_wrong_method_is_405_json(server: Any, method: str, path: str, allowed: str) -> None:
    with nothing_written(server):
        response = server.http(method, path, data={"FriendlyName": "x"})
    assert_error_body(response, 405, 20004)
    assert response.headers["Allow"] == allowed


def test_resource_urls_are_absolute_and_work(server: Any, client: Any, conversation: Any) -> None:
    ctx = client.conversations.v1.conversations(conversation.sid)
    p = ctx.participants.create(identity="linker")
    m = ctx.messages.create(author="linker", body="x")
    for url in [conversation.url, *conversation.links.values(), p.url, m.url, m.links["delivery_receipts"]]:
        assert url.startswith(server.url + "/v1/")
    # the URLs given by the server are where the resources live
    for url, sid in [(conversation.url, conversation.sid), (p.url, p.sid), (m.url, m.sid)]:
        assert server.http("GET", url[len(server.url) :]).json()["sid"] == sid
    assert (
        server.http("GET", conversation.links["participants"][len(server.url) :]).json()["meta"]["key"]
        == "participants"
    )
    assert (
        server.http("GET", m.links["delivery_receipts"][len(server.url) :]).json()["meta"]["key"] == "delivery_receipts"
    )


def test_list_meta_urls(server: Any, client: Any, conversation: Any) -> None:
    ctx = client.conversations.v1.conversations(conversation.sid)
    for i in range(3):
        ctx.participants.create(identity=f"paged{i}")
    path = f"/v1/Conversations/{conversation.sid}/Participants"
    meta = server.http("GET", f"{path}?PageSize=2").json()["meta"]
    assert meta["key"] == "participants" and meta["page"] == 0 and meta["page_size"] == 2
    assert meta["url"].startswith(f"{server.url}{path}?")
    assert meta["first_page_url"].startswith(f"{server.url}{path}?")
    assert meta["previous_page_url"] is None
    next_url = urlsplit(meta["next_page_url"])
    assert f"{next_url.scheme}://{next_url.netloc}" == server.url and next_url.path == path
    assert parse_qs(next_url.query)["PageSize"] == ["2"]
    last = server.http("GET", meta["next_page_url"][len(server.url) :]).json()
    assert [p["identity"] for p in last["participants"]] == ["paged2"]
    assert last["meta"]["next_page_url"] is None
    assert last["meta"]["previous_page_url"].startswith(f"{server.url}{path}?")


def test_page_size_is_capped_at_the_documented_maximum(server: Any, client: Any, conversation: Any) -> None:
    m = client.conversations.v1.conversations(conversation.sid).messages.create(body="x")
    for path, maximum in [
        ("/v1/Conversations", 100),
        (f"/v1/Conversations/{conversation.sid}/Messages", 100),
        (f"/v1/Conversations/{conversation.sid}/Participants", 100),
        (f"/v1/Conversations/{conversation.sid}/Messages/{m.sid}/Receipts", 50),
    ]:
        assert server.http("GET", f"{path}?PageSize=1000").json()["meta"]["page_size"] == maximum
        assert server.http("GET", path).json()["meta"]["page_size"] == 50  # the default


FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "chat.example.com"}


def test_forwarded_headers_shape_every_url(server: Any, client: Any, conversation: Any, service_sid: str) -> None:
    base = "https://chat.example.com"
    ctx = client.conversations.v1.conversations(conversation.sid)
    p = ctx.participants.create(identity="behind-proxy")
    m = ctx.messages.create(body="x")

    conv = server.http("GET", f"/v1/Conversations/{conversation.sid}", headers=FORWARDED).json()
    assert conv["url"] == f"{base}/v1/Conversations/{conversation.sid}"
    assert all(link.startswith(f"{base}/v1/Conversations/{conversation.sid}/") for link in conv["links"].values())
    part = server.http("GET", f"/v1/Conversations/{conversation.sid}/Participants/{p.sid}", headers=FORWARDED).json()
    assert part["url"] == f"{base}/v1/Conversations/{conversation.sid}/Participants/{p.sid}"
    msg = server.http("GET", f"/v1/Conversations/{conversation.sid}/Messages/{m.sid}", headers=FORWARDED).json()
    assert msg["url"] == f"{base}/v1/Conversations/{conversation.sid}/Messages/{m.sid}"
    config = server.http("GET", "/v1/Configuration", headers=FORWARDED).json()
    assert config["url"] == f"{base}/v1/Configuration"
    svc = server.http("GET", f"/v1/Services/{service_sid}/Conversations/{conversation.sid}", headers=FORWARDED).json()
    assert svc["url"] == f"{base}/v1/Services/{service_sid}/Conversations/{conversation.sid}"

    created = server.http("POST", "/v1/Conversations", data={"FriendlyName": "proxied"}, headers=FORWARDED)
    assert created.json()["url"] == f"{base}/v1/Conversations/{created.json()['sid']}"

    meta = server.http("GET", "/v1/Conversations?PageSize=1", headers=FORWARDED).json()["meta"]
    for name in ("url", "first_page_url", "next_page_url"):
        assert meta[name].startswith(f"{base}/v1/Conversations?"), meta[name]


def test_forwarded_host_with_a_port(server: Any, conversation: Any) -> None:
    headers = {"X-Forwarded-Proto": "http", "X-Forwarded-Host": "10.0.0.5:8443"}
    body = server.http("GET", f"/v1/Conversations/{conversation.sid}", headers=headers).json()
    assert body["url"] == f"http://10.0.0.5:8443/v1/Conversations/{conversation.sid}"


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Forwarded-Host": "evil.example.com/phish"},
        {"X-Forwarded-Host": "evil.example.com?x=1"},
        {"X-Forwarded-Host": "user@evil.example.com"},
        {"X-Forwarded-Host": "a b"},
        {"X-Forwarded-Proto": "javascript"},
    ],
)
def test_malformed_forwarded_headers_are_ignored(server: Any, conversation: Any, headers: dict[str, str]) -> None:
    body = server.http("GET", f"/v1/Conversations/{conversation.sid}", headers=headers).json()
    assert body["url"] == f"{server.url}/v1/Conversations/{conversation.sid}"


def test_sdk_paging_follows_the_servers_own_urls(server: Any, client: Any, conversation: Any) -> None:
    """The SDK fetches meta.next_page_url verbatim; a stream across pages only works if it points here."""
    ctx = client.conversations.v1.conversations(conversation.sid)
    for i in range(5):
        ctx.messages.create(body=str(i))
    assert [m.body for m in ctx.messages.stream(page_size=2)] == ["0", "1", "2", "3", "4"]
