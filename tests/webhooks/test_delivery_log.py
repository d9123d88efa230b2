"""Hubbub's delivery log and analytics (`/hubbub/v1/WebhookDeliveries`, `/WebhookAttempts`, `/Stats`)."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import OTHER_ACCOUNT_SID, OTHER_AUTH_TOKEN

from .conftest import Hooks, advance_clock
from .receiver import Reply


def _get(hooks: Hooks, path: str, **params: str) -> Any:
    response = hooks.server.http("GET", path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def logged(hooks: Hooks) -> tuple[Hooks, Any, str]:
    """A conversation with 3 messages delivered to the service URL and failing at a scoped URL."""
    hooks.configure(filters=["onMessageAdded", "onConversationUpdated"])
    conv = hooks.conversation(friendly_name="logged")
    bad = hooks.post_path + "/bad"
    hooks.receiver.on(bad, lambda rec: Reply(500))
    conv.webhooks.create(target="webhook", configuration_url=hooks.receiver.url(bad),
                         configuration_filters=["onMessageAdded"])
    for n in range(3):
        conv.messages.create(author="bob", body=f"log {n}", x_twilio_webhook_enabled="true")
    conv.update(attributes='{"x": 1}', x_twilio_webhook_enabled="true")

    def settled() -> bool:
        statuses = [d["status"] for d in hooks.deliveries(ConversationSid=conv.sid)]
        return len(statuses) == 7 and set(statuses) <= {"delivered", "failed"}

    hooks.receiver.wait(settled, what="deliveries settled")
    return hooks, conv, hooks.receiver.url(bad)


def test_list_filter_fetch_and_attempts(logged: tuple[Hooks, Any, str]) -> None:
    hooks, conv, bad_url = logged
    good_url = hooks.receiver.url(hooks.post_path)
    everything = _get(hooks, "/hubbub/v1/WebhookDeliveries", ConversationSid=conv.sid)
    assert everything["meta"]["key"] == "deliveries"
    rows = everything["deliveries"]
    assert len(rows) == 7
    assert [r["event_type"] for r in rows][0] == "onConversationUpdated"  # newest first
    failed = _get(hooks, "/hubbub/v1/WebhookDeliveries", ConversationSid=conv.sid, Status="failed")["deliveries"]
    assert len(failed) == 3 and {r["webhook_url"] for r in failed} == {bad_url}
    assert all(r["level"] == "conversation" and r["webhook_sid"].startswith("WH") for r in failed)
    by_url = _get(hooks, "/hubbub/v1/WebhookDeliveries", WebhookUrl=good_url)["deliveries"]
    assert len(by_url) == 4 and all(r["status"] == "delivered" for r in by_url)
    updated = _get(hooks, "/hubbub/v1/WebhookDeliveries", ConversationSid=conv.sid,
                   EventType="onConversationUpdated")["deliveries"]
    assert len(updated) == 1 and updated[0]["parameters"]["Attributes"] == '{"x": 1}'
    page = _get(hooks, "/hubbub/v1/WebhookDeliveries", ConversationSid=conv.sid, PageSize="2")
    assert len(page["deliveries"]) == 2 and page["meta"]["next_page_url"]
    nxt = hooks.server.http("GET", page["meta"]["next_page_url"].replace(hooks.server.url, "")).json()
    assert [d["sid"] for d in nxt["deliveries"]] == [d["sid"] for d in rows[2:4]]
    window = _get(hooks, "/hubbub/v1/WebhookDeliveries", ConversationSid=conv.sid,
                  StartDate=rows[-1]["date_created"][:19] + "Z", EndDate="2999-01-01")
    assert len(window["deliveries"]) == 7
    assert _get(hooks, "/hubbub/v1/WebhookDeliveries", ConversationSid=conv.sid,
                EndDate="2000-01-01")["deliveries"] == []

    one = _get(hooks, f"/hubbub/v1/WebhookDeliveries/{failed[0]['sid']}")
    assert one == failed[0]
    attempts = _get(hooks, one["links"]["attempts"].replace(hooks.server.url, ""))["attempts"]
    assert [a["retry_count"] for a in attempts] == [0, 1, 2, 3]
    assert all(a["status_code"] == 500 and not a["success"] and a["latency_ms"] >= 0 for a in attempts)
    log = _get(hooks, "/hubbub/v1/WebhookAttempts", ConversationSid=conv.sid, Outcome="failure")["attempts"]
    assert len(log) == 12 and {a["webhook_url"] for a in log} == {bad_url}
    assert _get(hooks, "/hubbub/v1/WebhookAttempts", WebhookUrl=good_url, Outcome="success",
                Kind="post")["attempts"][0]["delivery_sid"].startswith("WD")


def test_stats_per_url_and_event(logged: tuple[Hooks, Any, str]) -> None:
    hooks, conv, bad_url = logged
    good_url = hooks.receiver.url(hooks.post_path)
    stats = _get(hooks, "/hubbub/v1/WebhookDeliveries/Stats")
    urls = {u["webhook_url"]: u for u in stats["by_url"]}
    assert (urls[good_url]["attempts"], urls[good_url]["successes"], urls[good_url]["success_rate"]) == (4, 4, 1.0)
    assert (urls[bad_url]["attempts"], urls[bad_url]["failures"], urls[bad_url]["success_rate"]) == (12, 12, 0.0)
    for entry in (urls[good_url], urls[bad_url], stats["total"]):
        latency = entry["latency_ms"]
        assert 0 < latency["p50"] <= latency["p95"] <= latency["p99"]
    events = {e["event_type"]: e for e in stats["by_event"]}
    assert events["onMessageAdded"]["attempts"] >= 15 and events["onConversationUpdated"]["attempts"] >= 1
    assert stats["total"]["attempts"] >= 16
    assert stats["queue"]["failed"] >= 3 and stats["kind"] == "post"
    empty = _get(hooks, "/hubbub/v1/WebhookDeliveries/Stats", StartDate="2001-01-01", EndDate="2001-01-02")
    assert empty["total"] == {"attempts": 0, "successes": 0, "failures": 0, "success_rate": None,
                              "latency_ms": {"p50": None, "p95": None, "p99": None}}


@pytest.mark.parametrize("path, params", [
    ("/hubbub/v1/WebhookDeliveries", {"Status": "lost"}),
    ("/hubbub/v1/WebhookDeliveries", {"Level": "planet"}),
    ("/hubbub/v1/WebhookDeliveries", {"StartDate": "yesterday"}),
    ("/hubbub/v1/WebhookDeliveries", {"ConversationSid": "CH123"}),
    ("/hubbub/v1/WebhookDeliveries", {"PageSize": "0"}),
    ("/hubbub/v1/WebhookDeliveries", {"WebhookUrl": "x" * 2000}),
    ("/hubbub/v1/WebhookAttempts", {"Outcome": "maybe"}),
    ("/hubbub/v1/WebhookAttempts", {"Kind": "during"}),
    ("/hubbub/v1/WebhookDeliveries/Stats", {"Kind": "during"}),
    ("/hubbub/v1/WebhookDeliveries/Stats", {"StartDate": "2020-01-02", "EndDate": "2020-01-01"}),
])
def test_bad_filters(hooks: Hooks, path: str, params: dict[str, str]) -> None:
    before = hooks.server.counts()
    response = hooks.server.http("GET", path, params=params)
    assert response.status_code == 400 and response.json()["code"] == 20001, response.text
    assert hooks.server.counts() == before


def test_other_accounts_see_nothing(logged: tuple[Hooks, Any, str]) -> None:
    hooks, conv, _ = logged
    sid = hooks.deliveries(ConversationSid=conv.sid)[0]["sid"]
    auth = (OTHER_ACCOUNT_SID, OTHER_AUTH_TOKEN)
    assert hooks.server.http("GET", "/hubbub/v1/WebhookDeliveries", auth=auth,
                             params={"ConversationSid": conv.sid}).json()["deliveries"] == []
    for method, path in (("GET", f"/hubbub/v1/WebhookDeliveries/{sid}"),
                         ("GET", f"/hubbub/v1/WebhookDeliveries/{sid}/Attempts"),
                         ("POST", f"/hubbub/v1/WebhookDeliveries/{sid}/Replay")):
        response = hooks.server.http(method, path, auth=auth)
        assert response.status_code == 404 and response.json()["code"] == 20404
    assert hooks.server.http("POST", "/hubbub/v1/WebhookDeliveries/Replay", auth=auth,
                             data={"ConversationSid": conv.sid}).json() == {"replayed": 0}
    assert hooks.server.http("GET", "/hubbub/v1/WebhookDeliveries", auth=("AC" + "0" * 32, "x" * 32)
                             ).status_code == 401


def test_retention_purges_old_log_entries(hooks: Hooks) -> None:
    hooks.configure(filters=["onMessageAdded"])
    conv = hooks.conversation(friendly_name="ephemeral")
    conv.messages.create(author="bob", body="soon forgotten", x_twilio_webhook_enabled="true")
    hooks.receiver.wait(lambda: [d["status"] for d in hooks.deliveries(ConversationSid=conv.sid)] == ["delivered"],
                        what="delivered")
    sid = hooks.deliveries(ConversationSid=conv.sid)[0]["sid"]
    advance_clock(hooks.server, 2 * 3600)  # the test server keeps the log for 1 hour
    hooks.receiver.wait(lambda: hooks.server.http("GET", f"/hubbub/v1/WebhookDeliveries/{sid}").status_code == 404,
                        what="purged")
    assert _get(hooks, "/hubbub/v1/WebhookAttempts", ConversationSid=conv.sid)["attempts"] == []
