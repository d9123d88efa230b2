"""Walk every operation of Twilio's Conversations v1 OpenAPI spec (all 103) against the live server.

For each operationId one test sends a valid request (path parameters filled with real resources, a form
from REQUESTS below) and checks:
- the status is the spec's success status (201 for creates, 201 or 202 for ConversationWithParticipants,
  200, 204 with an empty body for deletes) — a 404/405 for an unimplemented operation fails;
- the JSON body validates against the spec's response schema, strictly (tests/compat/spec.py): exactly
  the spec's fields, nullable only where the spec says so, dates `YYYY-MM-DDTHH:MM:SSZ`, absolute URLs;
- lists carry a non-empty records array under `meta.key`, all seven `meta` keys, and page URLs (like
  every `url`/`links` entry) that are absolute and point back at this server.

Prerequisites (a Conversation Service, conversations with a chat and an SMS participant, a message with a
receipt, a role, a user, a credential, an address configuration, a scoped webhook and a push binding
written straight into the `bindings` table, since only push registration creates those) are made on
first use, once per server, by `World`. Deletes always remove a throwaway resource made for them.
Service-scoped operations (`/v1/Services/{ChatServiceSid}/…`) run in a service of their own, and reuse
the request of their account-level twin (`CreateServiceRole` → `CreateRole`) unless listed themselves.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from . import spec
from .helpers import new_number
from .spec_world import (
    HOOK,
    SERVICE_PREFIX,
    PrerequisiteFailed,
    Scope,
    World,
    ensure_listed,
    json_text,
    path_values,
    scope_of,
    unique,
)

# ------------------------------------------------------------------------------------------------
# Valid requests, one per operation. A value may be a callable taking the `Ctx` of the case; a list
# value is sent as a repeated key (Permission=a&Permission=b), as the SDKs do.
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Req:
    form: dict[str, Any] | Callable[[Ctx], dict[str, Any]] = field(default_factory=dict)
    query: dict[str, Any] = field(default_factory=dict)


PAGE = {"PageSize": "2"}
CONVERSATION_FORM = {
    "FriendlyName": "spec walk",
    "UniqueName": lambda c: unique("walk-conv"),
    "Attributes": json_text({"topic": "spec walk"}),
    "DateCreated": "2020-01-02T03:04:05Z",
    "Timers.Closed": "PT12H",
}
CONVERSATION_UPDATE = {
    "FriendlyName": "spec walk (renamed)",
    "Attributes": json_text({"updated": True}),
    "DateUpdated": "2020-01-03T03:04:05Z",
}
ROLE_FORM = {
    "FriendlyName": lambda c: unique("walk-role"),
    "Type": "conversation",
    "Permission": ["sendMessage", "leaveConversation", "editOwnMessage"],
}
USER_FORM = {
    "Identity": lambda c: unique("walk-user"),
    "FriendlyName": "Walk User",
    "Attributes": json_text({"tier": "gold"}),
}

REQUESTS: dict[str, Req] = {
    # Account configuration: a singleton shared by the whole session, so the update writes back the
    # values that are already there (a valid request that changes nothing for other tests).
    "FetchConfiguration": Req(),
    "UpdateConfiguration": Req(lambda c: c.world.current_configuration()),
    "FetchConfigurationWebhook": Req(),
    "UpdateConfigurationWebhook": Req(lambda c: c.world.current_configuration_webhook()),
    # Address configurations
    "ListConfigurationAddress": Req(query={"Type": "sms", **PAGE}),
    "CreateConfigurationAddress": Req(
        {
            "Type": "sms",
            "Address": lambda c: new_number(),
            "FriendlyName": "walk address",
            "AutoCreation.Enabled": "true",
            "AutoCreation.Type": "default",
        }
    ),
    "FetchConfigurationAddress": Req(),
    "UpdateConfigurationAddress": Req(
        {
            "FriendlyName": "walk address (renamed)",
            "AutoCreation.Enabled": "true",
            "AutoCreation.Type": "webhook",
            "AutoCreation.WebhookUrl": HOOK,
            "AutoCreation.WebhookMethod": "post",
            "AutoCreation.WebhookFilters": ["onMessageAdded", "onParticipantAdded"],
        }
    ),
    "DeleteConfigurationAddress": Req(),
    # Conversations
    "CreateConversation": Req(CONVERSATION_FORM),
    "ListConversation": Req(query={"State": "active", **PAGE}),
    "FetchConversation": Req(),
    "UpdateConversation": Req(CONVERSATION_UPDATE),
    "DeleteConversation": Req(),
    "CreateConversationWithParticipants": Req(
        {
            "FriendlyName": "walk with participants",
            "UniqueName": lambda c: unique("walk-cwp"),
            "Attributes": json_text({"via": "cwp"}),
            "Participant": lambda c: [
                json_text({"identity": unique("cwp-a")}),
                json_text({"identity": unique("cwp-b")}),
            ],
        }
    ),
    # Participants
    "CreateConversationParticipant": Req(
        {
            "Identity": lambda c: unique("walk-chat"),
            "Attributes": json_text({"role": "agent"}),
            "DateCreated": "2020-01-02T03:04:05Z",
        }
    ),
    "ListConversationParticipant": Req(query=PAGE),
    "FetchConversationParticipant": Req(),
    "UpdateConversationParticipant": Req(
        {
            "Attributes": json_text({"seat": 2}),
            "LastReadMessageIndex": "0",
            "LastReadTimestamp": "2020-01-02T03:04:05Z",
        }
    ),
    "DeleteConversationParticipant": Req(),
    "ListParticipantConversation": Req(query={"Identity": "{identity}", **PAGE}),
    # Messages and receipts
    "CreateConversationMessage": Req(
        {
            "Author": "{identity}",
            "Body": "Hello from the spec walk",
            "Attributes": json_text({"importance": "high"}),
        }
    ),
    "ListConversationMessage": Req(query={"Order": "desc", **PAGE}),
    "FetchConversationMessage": Req(),
    "UpdateConversationMessage": Req(
        {"Body": "Edited by the spec walk", "Attributes": json_text({"edited": True})}
    ),
    "DeleteConversationMessage": Req(),
    "ListConversationMessageReceipt": Req(query=PAGE),
    "FetchConversationMessageReceipt": Req(),
    # Conversation-scoped webhooks
    "CreateConversationScopedWebhook": Req(
        {
            "Target": "webhook",
            "Configuration.Url": HOOK,
            "Configuration.Method": "post",
            "Configuration.Filters": ["onMessageAdded", "onParticipantAdded"],
        }
    ),
    "ListConversationScopedWebhook": Req(query=PAGE),
    "FetchConversationScopedWebhook": Req(),
    "UpdateConversationScopedWebhook": Req(
        {"Configuration.Method": "get", "Configuration.Filters": ["onMessageUpdated"]}
    ),
    "DeleteConversationScopedWebhook": Req(),
    # Push credentials
    "CreateCredential": Req({"Type": "fcm", "FriendlyName": "walk fcm", "Secret": "fcm-server-key"}),
    "ListCredential": Req(query=PAGE),
    "FetchCredential": Req(),
    "UpdateCredential": Req({"FriendlyName": "walk fcm (renamed)", "Secret": "rotated-server-key"}),
    "DeleteCredential": Req(),
    # Roles
    "CreateRole": Req(ROLE_FORM),
    "ListRole": Req(query=PAGE),
    "FetchRole": Req(),
    "UpdateRole": Req({"Permission": ["sendMessage", "sendMediaMessage", "leaveConversation"]}),
    "DeleteRole": Req(),
    # Users and their conversations
    "CreateUser": Req(USER_FORM),
    "ListUser": Req(query=PAGE),
    "FetchUser": Req(),
    "UpdateUser": Req({"FriendlyName": "Walk User (renamed)", "Attributes": json_text({"tier": "silver"})}),
    "DeleteUser": Req(),
    "ListUserConversation": Req(query=PAGE),
    "FetchUserConversation": Req(),
    "UpdateUserConversation": Req(
        {
            "NotificationLevel": "muted",
            "LastReadMessageIndex": "0",
            "LastReadTimestamp": "2020-01-02T03:04:05Z",
        }
    ),
    "DeleteUserConversation": Req(),
    # Services (account level)
    "CreateService": Req({"FriendlyName": "walk service"}),
    "ListService": Req(query=PAGE),
    "FetchService": Req(),
    "DeleteService": Req(),
    # Service-only resources
    "ListServiceBinding": Req(query={"BindingType": ["fcm", "apn"], "Identity": "{identity}", **PAGE}),
    "FetchServiceBinding": Req(),
    "DeleteServiceBinding": Req(),
    "FetchServiceConfiguration": Req(),
    "UpdateServiceConfiguration": Req(
        {
            "DefaultConversationRoleSid": "{role}",
            "DefaultConversationCreatorRoleSid": "{role}",
            "ReachabilityEnabled": "false",
        }
    ),
    "FetchServiceNotification": Req(),
    "UpdateServiceNotification": Req(
        {
            "LogEnabled": "true",
            "NewMessage.Enabled": "true",
            "NewMessage.Template": "${PARTICIPANT}: ${MESSAGE}",
            "NewMessage.Sound": "ring",
            "NewMessage.BadgeCountEnabled": "true",
            "AddedToConversation.Enabled": "true",
            "AddedToConversation.Template": "You joined ${CONVERSATION}",
            "RemovedFromConversation.Enabled": "false",
            "NewMessage.WithMedia.Enabled": "true",
            "NewMessage.WithMedia.Template": "${MEDIA_COUNT} files",
        }
    ),
    "FetchServiceWebhookConfiguration": Req(),
    "UpdateServiceWebhookConfiguration": Req(
        {
            "PreWebhookUrl": HOOK + "/pre",
            "PostWebhookUrl": HOOK + "/post",
            "Filters": ["onMessageAdded", "onConversationRemoved"],
            "Method": "POST",
        }
    ),
}

OPERATIONS = {op.operation_id: op for op in spec.operations()}


def twin(op: spec.Operation) -> str:
    """The operationId whose request this operation uses: its own, or its account-level twin's."""
    if op.operation_id in REQUESTS:
        return op.operation_id
    other = re.sub(r"^(Create|Update|Delete|Fetch|List)Service", r"\1", op.operation_id)
    assert other in OPERATIONS and op.path == SERVICE_PREFIX + OPERATIONS[other].path.removeprefix("/v1"), (
        f"{op.operation_id} has no entry in REQUESTS and no account-level twin"
    )
    return other


@dataclass
class Ctx:
    world: World
    scope: Scope

    def fill(self, value: Any) -> Any:
        if callable(value):
            value = value(self)
        if isinstance(value, list):
            return [self.fill(v) for v in value]
        if isinstance(value, str) and "{" in value and "$" not in value:
            if "{role}" in value:
                value = value.replace("{role}", self.scope.role())
            value = value.replace("{identity}", self.scope.identity)
        return value


def build_request(op: spec.Operation, world: World) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """(path, form, query) of a valid request for `op`."""
    values = path_values(op, world)
    if op.method == "GET" and op.list_key is not None:
        ensure_listed(op, world)
    req = REQUESTS[twin(op)]
    ctx = Ctx(world, scope_of(op, world))
    form = req.form(ctx) if callable(req.form) else req.form
    return (
        op.path.format(**values),
        {k: ctx.fill(v) for k, v in form.items()},
        {k: ctx.fill(v) for k, v in req.query.items()},
    )


# ------------------------------------------------------------------------------------------------
# The walk
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world(server: Any) -> World:
    return World(server)


def test_every_operation_has_a_request() -> None:
    assert len(OPERATIONS) == 103
    for op in OPERATIONS.values():
        twin(op)
    assert set(REQUESTS) <= set(OPERATIONS), set(REQUESTS) - set(OPERATIONS)


def test_spec_examples_pass_the_validator() -> None:
    """The strict schemas accept every example response in Twilio's own spec (151 of them)."""
    checked = 0
    for op in OPERATIONS.values():
        for status in op.success:
            content = op.raw["responses"][str(status)].get("content", {}).get("application/json")
            if content is None:
                continue
            schema = spec.to_json_schema(content["schema"])
            for name, example in content.get("examples", {}).items():
                assert spec.schema_errors(schema, example["value"]) == [], (op.operation_id, name)
                checked += 1
    assert checked > 100


@pytest.mark.parametrize("operation_id", list(OPERATIONS), ids=list(OPERATIONS))
def test_operation(server: Any, world: World, operation_id: str) -> None:
    op = OPERATIONS[operation_id]
    try:
        path, form, query = build_request(op, world)
    except PrerequisiteFailed as e:
        pytest.fail(f"{operation_id}: prerequisite failed — {e}")
    headers = {}
    if any(p["name"] == "X-Twilio-Webhook-Enabled" for p in op.raw.get("parameters", [])):
        headers["X-Twilio-Webhook-Enabled"] = "false"
    response = server.http(
        op.method, path, data=form if op.method == "POST" else None, params=query, headers=headers
    )
    where = f"{op.method} {path}"
    assert response.status_code in op.success, (
        f"{where} answered {response.status_code}, the spec says {op.success}: {response.text[:500]}"
    )

    schema = op.response_schema()
    if schema is None:  # a delete
        assert response.status_code == 204 and response.content == b"", f"{where}: {response.content[:200]!r}"
        return
    assert response.headers.get("content-type", "").startswith("application/json"), response.headers
    body = response.json()
    errors = spec.schema_errors(schema, body)
    assert errors == [], f"{where}: the body does not match the spec's schema:\n" + "\n".join(errors[:20])

    base = server.url + "/v1/"
    wrong = [(k, u) for k, u in spec.own_urls(body) if not u.startswith(base)]
    assert wrong == [], f"{where}: URLs that do not point at the server ({base}): {wrong[:5]}"

    if op.list_key is not None:
        meta = body["meta"]
        assert set(meta) == spec.META_KEYS
        assert meta["key"] == op.list_key and isinstance(body[op.list_key], list)
        assert body[op.list_key], f"{where}: the list is empty, but the walk made at least one record for it"
        assert meta["page_size"] == int(query["PageSize"]) and meta["page"] == 0
        assert meta["url"].startswith(server.url + path + "?"), meta["url"]
        assert meta["first_page_url"].startswith(server.url + path + "?"), meta["first_page_url"]
        assert meta["previous_page_url"] is None
