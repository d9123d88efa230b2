"""Conversation-scoped webhooks through the official SDK: the `webhook`, `trigger` and `studio` targets,
list (at most five per page, and per conversation), fetch, update, delete, the service-scoped copy, and
Twilio's validation codes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from .helpers import assert_error_body, twilio_error
from .spec import operations, schema_errors

WH_RE = re.compile(r"^WH[0-9a-f]{32}$")
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
FLOW = "FW" + "b" * 32


def op_schema(operation_id: str) -> dict[str, Any]:
    (op,) = (o for o in operations() if o.operation_id == operation_id)
    schema = op.response_schema()
    assert schema is not None
    return schema


def hooks(client: Any, conversation_sid: str) -> Any:
    return client.conversations.v1.conversations(conversation_sid).webhooks


@contextmanager
def nothing_written(server: Any) -> Iterator[None]:
    before = server.count("conversation_webhooks")
    yield
    assert server.count("conversation_webhooks") == before


def test_create_webhook_target(server: Any, client: Any, conversation: Any) -> None:
    hook = hooks(client, conversation.sid).create(
        target="webhook",
        configuration_url="https://example.com",
        configuration_method="get",
        configuration_filters=["onMessageAdded", "onConversationRemoved"],
        configuration_replay_after=7,
    )
    assert WH_RE.match(hook.sid)
    assert (hook.account_sid, hook.conversation_sid, hook.target) == (
        server.account_sid,
        conversation.sid,
        "webhook",
    )
    assert hook.configuration == {
        "url": "https://example.com",
        "method": "get",
        "filters": ["onMessageAdded", "onConversationRemoved"],
        "replay_after": 7,
    }
    assert hook.url == f"{server.url}/v1/Conversations/{conversation.sid}/Webhooks/{hook.sid}"
    assert hook.date_created is not None and hook.date_created == hook.date_updated
    body = server.http("GET", f"/v1/Conversations/{conversation.sid}/Webhooks/{hook.sid}").json()
    assert schema_errors(op_schema("FetchConversationScopedWebhook"), body) == []


def test_trigger_and_studio_targets(client: Any, conversation: Any) -> None:
    trigger = hooks(client, conversation.sid).create(
        target="trigger",
        configuration_url="https://bot.example.com/hook",
        configuration_method="POST",
        configuration_triggers=["keyword1", "keyword2"],
    )
    assert trigger.configuration == {
        "url": "https://bot.example.com/hook",
        "method": "post",
        "filters": ["keyword1", "keyword2"],
    }
    studio = hooks(client, conversation.sid).create(target="studio", configuration_flow_sid=FLOW)
    assert studio.configuration == {"flow_sid": FLOW}
    plain = hooks(client, conversation.sid).create(target="webhook", configuration_url="http://example.org")
    assert plain.configuration == {"url": "http://example.org", "method": "post", "filters": []}


def test_list_fetch_update_delete(server: Any, client: Any, conversation: Any) -> None:
    made = [
        hooks(client, conversation.sid).create(target="webhook", configuration_url=f"https://e.com/{i}").sid
        for i in range(4)
    ]
    assert [h.sid for h in hooks(client, conversation.sid).list()] == made
    assert [h.sid for h in hooks(client, conversation.sid).stream(page_size=3)] == made
    page = server.http(
        "GET", f"/v1/Conversations/{conversation.sid}/Webhooks", params={"PageSize": "50"}
    ).json()
    assert (page["meta"]["key"], page["meta"]["page_size"]) == ("webhooks", 5)
    assert schema_errors(op_schema("ListConversationScopedWebhook"), page) == []
    default = server.http("GET", f"/v1/Conversations/{conversation.sid}/Webhooks").json()
    assert default["meta"]["page_size"] == 5

    ctx = hooks(client, conversation.sid)(made[0])
    assert ctx.fetch().configuration["url"] == "https://e.com/0"
    updated = ctx.update(
        configuration_url="https://example.com/new",
        configuration_method="get",
        configuration_filters=["onMessageUpdated"],
    )
    assert updated.configuration == {
        "url": "https://example.com/new",
        "method": "get",
        "filters": ["onMessageUpdated"],
    }
    assert updated.target == "webhook"
    assert ctx.fetch().configuration == updated.configuration
    assert ctx.delete() is True
    with twilio_error(404, 20404):
        ctx.fetch()
    with twilio_error(404, 20404):
        ctx.delete()
    assert [h.sid for h in hooks(client, conversation.sid).list()] == made[1:]


def test_update_trigger_keywords_and_studio_flow(client: Any, conversation: Any) -> None:
    trigger = hooks(client, conversation.sid).create(
        target="trigger",
        configuration_url="https://example.com",
        configuration_triggers=["start"],
        configuration_replay_after=0,
    )
    updated = hooks(client, conversation.sid)(trigger.sid).update(configuration_triggers=["stop", "help"])
    assert updated.configuration == {
        "url": "https://example.com",
        "method": "post",
        "filters": ["stop", "help"],
        "replay_after": 0,
    }
    studio = hooks(client, conversation.sid).create(target="studio", configuration_flow_sid=FLOW)
    other_flow = "FW" + "c" * 32
    assert hooks(client, conversation.sid)(studio.sid).update(
        configuration_flow_sid=other_flow
    ).configuration == {"flow_sid": other_flow}


def test_service_scoped_copy(server: Any, client: Any, service_sid: str) -> None:
    conv = client.conversations.v1.services(service_sid).conversations.create(friendly_name="svc hooks")
    svc_hooks = client.conversations.v1.services(service_sid).conversations(conv.sid).webhooks
    hook = svc_hooks.create(target="studio", configuration_flow_sid=FLOW)
    assert hook.chat_service_sid == service_sid
    assert hook.url == f"{server.url}/v1/Services/{service_sid}/Conversations/{conv.sid}/Webhooks/{hook.sid}"
    assert [h.sid for h in svc_hooks.list()] == [hook.sid]
    assert svc_hooks(hook.sid).update(configuration_flow_sid=FLOW).sid == hook.sid
    body = server.http(
        "GET", f"/v1/Services/{service_sid}/Conversations/{conv.sid}/Webhooks/{hook.sid}"
    ).json()
    assert schema_errors(op_schema("FetchServiceConversationScopedWebhook"), body) == []
    assert (
        "chat_service_sid"
        not in server.http("GET", f"/v1/Conversations/{conv.sid}/Webhooks/{hook.sid}").json()
    )
    assert svc_hooks(hook.sid).delete() is True


def test_conversation_by_unique_name_and_cascade(server: Any, client: Any) -> None:
    conv = client.conversations.v1.conversations.create(unique_name="hooked-by-name")
    hook = hooks(client, "hooked-by-name").create(target="studio", configuration_flow_sid=FLOW)
    assert hook.conversation_sid == conv.sid
    before = server.count("conversation_webhooks")
    client.conversations.v1.conversations(conv.sid).delete()
    assert server.count("conversation_webhooks") == before - 1


def test_at_most_five_per_conversation(server: Any, client: Any, conversation: Any) -> None:
    for _ in range(5):
        hooks(client, conversation.sid).create(target="studio", configuration_flow_sid=FLOW)
    with nothing_written(server), twilio_error(400, 50361):
        hooks(client, conversation.sid).create(target="studio", configuration_flow_sid=FLOW)


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ({}, 20001),  # no Target
        ({"Target": "flex"}, 20001),
        ({"Target": "webhook"}, 20001),  # no Configuration.Url
        ({"Target": "webhook", "Configuration.Url": "example.com"}, 20001),
        ({"Target": "webhook", "Configuration.Url": "javascript:alert(1)"}, 20001),
        ({"Target": "webhook", "Configuration.Url": "https://exa mple.com"}, 20001),
        ({"Target": "webhook", "Configuration.Url": "https://example.com:99999"}, 20001),
        ({"Target": "webhook", "Configuration.Url": "https://e.com", "Configuration.Method": "put"}, 20001),
        (
            {
                "Target": "webhook",
                "Configuration.Url": "https://e.com",
                "Configuration.Filters": "not an event",
            },
            20001,
        ),
        (
            {"Target": "webhook", "Configuration.Url": "https://e.com", "Configuration.ReplayAfter": "-1"},
            20001,
        ),
        (
            {"Target": "webhook", "Configuration.Url": "https://e.com", "Configuration.ReplayAfter": "seven"},
            20001,
        ),
        ({"Target": "trigger", "Configuration.Url": "https://e.com"}, 50371),
        (
            {
                "Target": "trigger",
                "Configuration.Url": "https://e.com",
                "Configuration.Triggers": [f"k{i}" for i in range(6)],
            },
            50362,
        ),
        (
            {"Target": "trigger", "Configuration.Url": "https://e.com", "Configuration.Triggers": ["ok", ""]},
            50366,
        ),
        (
            {
                "Target": "trigger",
                "Configuration.Url": "https://e.com",
                "Configuration.Triggers": ["k" * 249],
            },
            50366,
        ),
        ({"Target": "trigger", "Configuration.Triggers": ["k"]}, 20001),  # no Configuration.Url
        ({"Target": "studio"}, 20001),  # no Configuration.FlowSid
        ({"Target": "studio", "Configuration.FlowSid": "FW123"}, 20001),
    ],
)
def test_bad_create_writes_nothing(server: Any, conversation: Any, data: dict[str, Any], code: int) -> None:
    with nothing_written(server):
        response = server.http(
            "POST", f"/v1/Conversations/{conversation.sid}/Webhooks", headers=FORM, data=data
        )
    assert_error_body(response, 400, code)


def test_longest_trigger_keyword_is_accepted(client: Any, conversation: Any) -> None:
    hook = hooks(client, conversation.sid).create(
        target="trigger", configuration_url="https://e.com", configuration_triggers=["k" * 248] * 5
    )
    assert hook.configuration["filters"] == ["k" * 248] * 5


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ({"Configuration.Url": "not a url"}, 20001),
        ({"Configuration.Method": "patch"}, 20001),
        ({"Configuration.Triggers": [f"k{i}" for i in range(6)]}, 50362),
        ({"Configuration.Triggers": [""]}, 50366),
        ({"Configuration.FlowSid": "FWxyz"}, 20001),
    ],
)
def test_bad_update_changes_nothing(
    server: Any, client: Any, conversation: Any, data: dict[str, Any], code: int
) -> None:
    hook = hooks(client, conversation.sid).create(
        target="trigger", configuration_url="https://e.com", configuration_triggers=["go"]
    )
    path = f"/v1/Conversations/{conversation.sid}/Webhooks/{hook.sid}"
    before = server.http("GET", path).json()
    assert_error_body(server.http("POST", path, headers=FORM, data=data), 400, code)
    assert server.http("GET", path).json() == before


def test_unknown_and_foreign_webhooks_are_404(
    server: Any, client: Any, other_client: Any, other_auth: tuple[str, str], conversation: Any
) -> None:
    hook = hooks(client, conversation.sid).create(target="studio", configuration_flow_sid=FLOW)
    elsewhere = client.conversations.v1.conversations.create(friendly_name="elsewhere")
    for ctx in (
        hooks(client, conversation.sid)("WH" + "0" * 32),
        hooks(client, conversation.sid)("nope"),
        hooks(client, elsewhere.sid)(hook.sid),
        hooks(other_client, conversation.sid)(hook.sid),
    ):
        with twilio_error(404, 20404):
            ctx.fetch()
        with nothing_written(server), twilio_error(404, 20404):
            ctx.update(configuration_flow_sid=FLOW)
        with nothing_written(server), twilio_error(404, 20404):
            ctx.delete()
    with nothing_written(server), twilio_error(404, 20404):
        hooks(other_client, conversation.sid).create(target="studio", configuration_flow_sid=FLOW)
    with nothing_written(server), twilio_error(404, 20404):
        hooks(client, "CH" + "0" * 32).create(target="studio", configuration_flow_sid=FLOW)
    foreign_list = server.http("GET", f"/v1/Conversations/{conversation.sid}/Webhooks", auth=other_auth)
    assert_error_body(foreign_list, 404, 20404)
    other_service = "IS" + "0" * 32
    with nothing_written(server), twilio_error(404, 20404):
        client.conversations.v1.services(other_service).conversations(conversation.sid).webhooks.create(
            target="studio", configuration_flow_sid=FLOW
        )
