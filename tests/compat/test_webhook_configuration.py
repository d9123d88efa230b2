"""Where pre- and post-event webhooks go, through the official SDK: the account's /v1/Configuration/Webhooks
and a service's /v1/Services/{IS}/Configuration/Webhooks (URLs, method, event filters, target)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.compat.helpers import assert_error_body, nothing_written, twilio_error

ACCOUNT_FIELDS = {"account_sid", "method", "filters", "pre_webhook_url", "post_webhook_url", "target", "url"}
SERVICE_FIELDS = {"account_sid", "chat_service_sid", "pre_webhook_url", "post_webhook_url", "filters",
                  "method", "url"}
USER_EVENTS = ["onUserAdded", "onUserUpdate", "onUserUpdated"]


@pytest.fixture
def account_webhooks(client: Any) -> Iterator[Any]:
    """The account-level webhook configuration, put back as it was afterwards (the server is shared)."""
    ctx = client.conversations.v1.configuration.webhooks()
    before = ctx.fetch()
    yield ctx
    ctx.update(method=before.method, filters=before.filters or [""], target=before.target,
               pre_webhook_url=before.pre_webhook_url or "", post_webhook_url=before.post_webhook_url or "")


@pytest.fixture
def new_service(client: Any) -> Iterator[str]:
    sid: str = client.conversations.v1.services.create(friendly_name="webhook configuration").sid
    yield sid
    client.conversations.v1.services(sid).delete()


# -- account level -------------------------------------------------------------------------------------

def test_account_webhooks_before_any_update(server: Any, other_client: Any, other_auth: Any) -> None:
    # The second account never configures its webhooks in this suite: it sees the defaults.
    hooks = other_client.conversations.v1.configuration.webhooks().fetch()
    assert hooks.account_sid == other_client.username
    assert (hooks.method, hooks.filters, hooks.target) == ("POST", [], "webhook")
    assert (hooks.pre_webhook_url, hooks.post_webhook_url) == (None, None)
    assert hooks.url == f"{server.url}/v1/Configuration/Webhooks"
    raw = server.http("GET", "/v1/Configuration/Webhooks", auth=other_auth)
    assert set(raw.json()) == ACCOUNT_FIELDS


def test_update_account_webhooks(server: Any, account_webhooks: Any) -> None:
    updated = account_webhooks.update(
        method="GET", filters=["onMessageAdded", "onConversationAdd", *USER_EVENTS], target="flex",
        pre_webhook_url="https://hooks.example.com/pre", post_webhook_url="http://10.0.0.5:8080/post?x=1")
    expected = {
        "account_sid": server.account_sid, "method": "GET",
        "filters": ["onMessageAdded", "onConversationAdd", *USER_EVENTS], "target": "flex",
        "pre_webhook_url": "https://hooks.example.com/pre", "post_webhook_url": "http://10.0.0.5:8080/post?x=1",
        "url": f"{server.url}/v1/Configuration/Webhooks",
    }
    assert {name: getattr(updated, name) for name in ACCOUNT_FIELDS} == expected
    assert server.http("GET", "/v1/Configuration/Webhooks").json() == expected


def test_account_update_changes_only_what_it_names(account_webhooks: Any) -> None:
    account_webhooks.update(method="GET", filters=["onMessageAdded"], pre_webhook_url="https://a.example/pre")
    after = account_webhooks.update(post_webhook_url="https://a.example/post")
    assert (after.method, after.filters, after.pre_webhook_url, after.post_webhook_url, after.target) == \
           ("GET", ["onMessageAdded"], "https://a.example/pre", "https://a.example/post", "webhook")


def test_empty_values_clear_urls_and_filters(account_webhooks: Any) -> None:
    account_webhooks.update(filters=["onMessageAdded"], pre_webhook_url="https://a.example/pre")
    cleared = account_webhooks.update(filters=[""], pre_webhook_url="")
    assert (cleared.filters, cleared.pre_webhook_url) == ([], None)


def test_method_is_case_insensitive_and_filters_are_deduplicated(account_webhooks: Any) -> None:
    updated = account_webhooks.update(method="get", filters=["onMessageAdded", "onMessageAdded",
                                                             "onDeliveryUpdated"])
    assert updated.method == "GET"
    assert updated.filters == ["onMessageAdded", "onDeliveryUpdated"]


def test_accounts_have_separate_webhook_configurations(account_webhooks: Any, other_client: Any) -> None:
    account_webhooks.update(pre_webhook_url="https://mine.example/pre")
    assert other_client.conversations.v1.configuration.webhooks().fetch().pre_webhook_url is None


BAD_URLS = ["ftp://example.com/hook", "/relative/path", "example.com/hook", "https://", "http:///nohost",
            "https://example.com/" + "a" * 1005, "https://exa mple.com/", "https://example.com:99999/",
            "javascript:alert(1)", "https://example.com/\x01"]


@pytest.mark.parametrize(
    "data",
    [
        {"Method": "PUT"},
        {"Method": ""},
        {"Target": "studio"},
        {"Target": "WEBHOOK"},
        {"Filters": "onMessageSent"},
        {"Filters": ["onMessageAdded", "bogus"]},
        {"Filters": "onmessageadded"},
        *({"PreWebhookUrl": url} for url in BAD_URLS),
        {"PostWebhookUrl": "mailto:someone@example.com"},
        {"PreWebhookUrl": "https://ok.example/pre", "Method": "DELETE"},
    ],
)
def test_bad_account_updates_change_nothing(server: Any, account_webhooks: Any, data: dict[str, Any]) -> None:
    account_webhooks.update(method="POST", pre_webhook_url="https://before.example/pre")
    before = server.http("GET", "/v1/Configuration/Webhooks").json()
    with nothing_written(server):
        assert_error_body(server.http("POST", "/v1/Configuration/Webhooks", data=data), 400, 20001)
    assert server.http("GET", "/v1/Configuration/Webhooks").json() == before


def test_url_of_1024_characters_is_accepted(account_webhooks: Any) -> None:
    url = "https://example.com/" + "a" * (1024 - len("https://example.com/"))
    assert account_webhooks.update(post_webhook_url=url).post_webhook_url == url


# -- service level -------------------------------------------------------------------------------------

def test_service_webhooks_before_any_update(server: Any, client: Any, new_service: str) -> None:
    hooks = client.conversations.v1.services(new_service).configuration.webhooks().fetch()
    assert (hooks.account_sid, hooks.chat_service_sid) == (server.account_sid, new_service)
    assert (hooks.pre_webhook_url, hooks.post_webhook_url, hooks.filters, hooks.method) == \
           (None, None, [], "POST")
    assert hooks.url == f"{server.url}/v1/Services/{new_service}/Configuration/Webhooks"
    assert set(server.http("GET", f"/v1/Services/{new_service}/Configuration/Webhooks").json()) == \
           SERVICE_FIELDS


def test_update_service_webhooks(server: Any, client: Any, new_service: str) -> None:
    ctx = client.conversations.v1.services(new_service).configuration.webhooks()
    updated = ctx.update(pre_webhook_url="https://svc.example/pre", post_webhook_url="https://svc.example/post",
                         filters=["onMessageAdd", "onParticipantAdded"], method="GET")
    expected = {
        "account_sid": server.account_sid, "chat_service_sid": new_service,
        "pre_webhook_url": "https://svc.example/pre", "post_webhook_url": "https://svc.example/post",
        "filters": ["onMessageAdd", "onParticipantAdded"], "method": "GET",
        "url": f"{server.url}/v1/Services/{new_service}/Configuration/Webhooks",
    }
    assert {name: getattr(updated, name) for name in SERVICE_FIELDS} == expected
    assert {name: getattr(ctx.fetch(), name) for name in SERVICE_FIELDS} == expected
    partial = ctx.update(method="POST")
    assert (partial.method, partial.filters, partial.pre_webhook_url) == \
           ("POST", ["onMessageAdd", "onParticipantAdded"], "https://svc.example/pre")
    cleared = ctx.update(post_webhook_url="", filters=[""])
    assert (cleared.post_webhook_url, cleared.filters) == (None, [])


def test_service_webhooks_are_per_service(client: Any, new_service: str, service_sid: str) -> None:
    client.conversations.v1.services(new_service).configuration.webhooks().update(
        post_webhook_url="https://only.example/post")
    default = client.conversations.v1.services(service_sid).configuration.webhooks().fetch()
    assert default.post_webhook_url != "https://only.example/post"


@pytest.mark.parametrize(
    "data",
    [
        {"Filters": "onUserAdded"},  # user events can only be filtered at account level
        {"Filters": ["onMessageAdded", "onUserUpdated"]},
        {"Filters": "onConversationDestroyed"},
        {"Method": "get-ish"},
        {"Target": "flex", "Method": "PATCH"},
        *({"PostWebhookUrl": url} for url in BAD_URLS),
    ],
)
def test_bad_service_updates_change_nothing(server: Any, new_service: str, data: dict[str, Any]) -> None:
    path = f"/v1/Services/{new_service}/Configuration/Webhooks"
    before = server.http("GET", path).json()
    with nothing_written(server):
        assert_error_body(server.http("POST", path, data=data), 400, 20001)
    assert server.http("GET", path).json() == before


def test_another_accounts_service_webhooks_are_404(other_client: Any, new_service: str) -> None:
    ctx = other_client.conversations.v1.services(new_service).configuration.webhooks()
    with twilio_error(404, 20404):
        ctx.fetch()
    with twilio_error(404, 20404):
        ctx.update(method="GET")


def test_service_webhooks_of_unknown_service_are_404(server: Any) -> None:
    for sid in ("IS" + "0" * 32, "IS-nope"):
        assert_error_body(server.http("GET", f"/v1/Services/{sid}/Configuration/Webhooks"), 404, 20404)
