"""Real resources for requests against a live server: the prerequisites of the spec walk
(test_spec_walk.py) and the real path parameters of the schemathesis run (test_schemathesis.py).

`World(server)` makes, on first use and once per server, a Conversation Service and, in both the default
service (`/v1/…`) and that service (`/v1/Services/IS…/…`), a conversation with a chat and an SMS
participant, a message with a delivery receipt, a role, a user (whose identity the chat participant
shares), a conversation-scoped webhook; and account-wide a push credential, an address configuration and a
push binding, written straight into the `bindings` table since only push registration makes those.
A failure to make one is remembered and raised as `PrerequisiteFailed` to every case that needs it.
`path_values(op, world)` fills an operation's path parameters; for a DELETE the target is a throwaway.
"""

from __future__ import annotations

import itertools
import json
import re
import secrets
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import insert

from hubbub.store import schema as tables

from . import spec
from .helpers import new_number

SERVICE_PREFIX = "/v1/Services/{ChatServiceSid}"
HOOK = "http://127.0.0.1:9/spec-walk"  # a webhook target that is never reachable (nothing to deliver to)

_serial = itertools.count(1)


def unique(prefix: str) -> str:
    """A name no other request in this session uses."""
    return f"{prefix}-{secrets.token_hex(3)}-{next(_serial)}"


def json_text(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


class PrerequisiteFailed(Exception):
    pass


def _cached(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Build once per key; a failure is remembered too, so every case that needs it says why."""

    def wrapper(self: Any, *args: Any) -> Any:
        key = (fn.__name__, *args)
        if key not in self._cache:
            try:
                self._cache[key] = fn(self, *args)
            except PrerequisiteFailed as e:
                self._cache[key] = e
        value = self._cache[key]
        if isinstance(value, PrerequisiteFailed):
            raise value
        return value

    return wrapper


class Scope:
    """The resources of one API root: `/v1` (the default service) or `/v1/Services/IS…`."""

    def __init__(self, world: World, root: str, service_sid: str | None) -> None:
        self.world = world
        self.root = root
        self.service_sid = service_sid
        self.identity = unique("walk-identity")  # the user, the chat participant and the binding share it
        self._cache: dict[Any, Any] = {}

    def post(self, path: str, data: dict[str, Any], what: str) -> dict[str, Any]:
        return self.world.expect(201, "POST", self.root + path, what, data=data)

    # -- the standing resources, made on first use ----------------------------------------------
    @_cached
    def conversation(self) -> str:
        return str(
            self.post(
                "/Conversations", {"FriendlyName": "walk", "UniqueName": unique("walk")}, "a conversation"
            )["sid"]
        )

    @_cached
    def user(self) -> str:
        return str(self.post("/Users", {"Identity": self.identity}, "a user")["sid"])

    @_cached
    def chat_participant(self) -> str:
        try:  # the user first, so the participant belongs to it (if users work at all)
            self.user()
        except PrerequisiteFailed:
            pass
        return str(
            self.post(
                f"/Conversations/{self.conversation()}/Participants",
                {"Identity": self.identity},
                "a chat participant",
            )["sid"]
        )

    @_cached
    def sms_participant(self) -> str:
        return str(
            self.post(
                f"/Conversations/{self.conversation()}/Participants",
                {"MessagingBinding.Address": new_number(), "MessagingBinding.ProxyAddress": new_number()},
                "an SMS participant",
            )["sid"]
        )

    @_cached
    def message(self) -> str:
        """A message from the chat participant, with a delivery receipt for the SMS participant."""
        self.chat_participant()
        self.sms_participant()
        return str(
            self.post(
                f"/Conversations/{self.conversation()}/Messages",
                {"Author": self.identity, "Body": "walk"},
                "a message",
            )["sid"]
        )

    @_cached
    def receipt(self) -> str:
        path = f"{self.root}/Conversations/{self.conversation()}/Messages/{self.message()}/Receipts"
        receipts = self.world.expect(200, "GET", path, "the message's receipts")["delivery_receipts"]
        if not receipts:
            raise PrerequisiteFailed(f"GET {path}: a message to an SMS participant has no delivery receipt")
        return str(receipts[0]["sid"])

    @_cached
    def webhook(self) -> str:
        return self.fresh_webhook()

    @_cached
    def role(self) -> str:
        return str(
            self.post(
                "/Roles",
                {"FriendlyName": unique("walk-role"), "Type": "conversation", "Permission": ["sendMessage"]},
                "a role",
            )["sid"]
        )

    @_cached
    def user_conversation(self) -> tuple[str, str]:
        self.chat_participant()
        return self.user(), self.conversation()

    # -- throwaways for deletes ------------------------------------------------------------------
    def fresh_conversation(self) -> str:
        return str(
            self.post("/Conversations", {"FriendlyName": "throwaway"}, "a throwaway conversation")["sid"]
        )

    def fresh_participant(self) -> str:
        return str(
            self.post(
                f"/Conversations/{self.conversation()}/Participants",
                {"Identity": unique("gone")},
                "a throwaway participant",
            )["sid"]
        )

    def fresh_message(self) -> str:
        return str(
            self.post(
                f"/Conversations/{self.conversation()}/Messages", {"Body": "throwaway"}, "a throwaway message"
            )["sid"]
        )

    def fresh_webhook(self) -> str:
        return str(
            self.post(
                f"/Conversations/{self.conversation()}/Webhooks",
                {
                    "Target": "webhook",
                    "Configuration.Url": HOOK,
                    "Configuration.Method": "post",
                    "Configuration.Filters": ["onMessageAdded"],
                },
                "a conversation-scoped webhook",
            )["sid"]
        )

    def fresh_role(self) -> str:
        return str(
            self.post(
                "/Roles",
                {"FriendlyName": unique("gone"), "Type": "service", "Permission": ["createConversation"]},
                "a throwaway role",
            )["sid"]
        )

    def fresh_user(self) -> str:
        return str(self.post("/Users", {"Identity": unique("gone")}, "a throwaway user")["sid"])

    def fresh_user_conversation(self) -> tuple[str, str]:
        user = self.user()
        conversation = self.fresh_conversation()
        self.post(
            f"/Conversations/{conversation}/Participants",
            {"Identity": self.identity},
            "the user's participant in a throwaway conversation",
        )
        return user, conversation


class World:
    """Everything the walk needs on one server, made on first use."""

    def __init__(self, server: Any) -> None:
        self.server = server
        self._cache: dict[Any, Any] = {}
        self.account = Scope(self, "/v1", None)
        self._service_scope: Scope | None = None

    def expect(self, status: int, method: str, path: str, what: str, **kw: Any) -> dict[str, Any]:
        response = self.server.http(method, path, **kw)
        if response.status_code != status:
            verb = "make" if method == "POST" else "read"
            raise PrerequisiteFailed(
                f"could not {verb} {what}: {method} {path} answered {response.status_code} "
                f"(expected {status}): {response.text[:300]}"
            )
        return response.json() if response.content else {}

    @_cached
    def service(self) -> str:
        return str(
            self.expect(
                201, "POST", "/v1/Services", "a Conversation Service", data={"FriendlyName": "spec walk"}
            )["sid"]
        )

    def service_scope(self) -> Scope:
        if self._service_scope is None:
            sid = self.service()
            self._service_scope = Scope(self, f"/v1/Services/{sid}", sid)
        return self._service_scope

    def fresh_service(self) -> str:
        return str(
            self.expect(
                201, "POST", "/v1/Services", "a throwaway service", data={"FriendlyName": "throwaway"}
            )["sid"]
        )

    @_cached
    def credential(self) -> str:
        return self.fresh_credential()

    def fresh_credential(self) -> str:
        return str(
            self.expect(
                201,
                "POST",
                "/v1/Credentials",
                "a push credential",
                data={"Type": "fcm", "Secret": "walk-secret"},
            )["sid"]
        )

    @_cached
    def address(self) -> str:
        return self.fresh_address()

    def fresh_address(self) -> str:
        return str(
            self.expect(
                201,
                "POST",
                "/v1/Configuration/Addresses",
                "an address configuration",
                data={"Type": "sms", "Address": new_number()},
            )["sid"]
        )

    @_cached
    def binding(self) -> str:
        return self.fresh_binding()

    def fresh_binding(self) -> str:
        """Push bindings are made only by push registration, so write one straight into the table."""
        scope = self.service_scope()
        try:
            credential: str | None = self.credential()
        except PrerequisiteFailed:
            credential = None
        sid = "BS" + secrets.token_hex(16)
        now = int(time.time())
        with self.server.engine.begin() as conn:
            conn.execute(
                insert(tables.bindings).values(
                    sid=sid,
                    account_sid=self.server.account_sid,
                    chat_service_sid=scope.service_sid,
                    credential_sid=credential,
                    endpoint=unique("walk-endpoint"),
                    identity=scope.identity,
                    binding_type="fcm",
                    address=secrets.token_hex(32),
                    message_types=json_text(
                        ["new_message", "added_to_conversation", "removed_from_conversation"]
                    ),
                    date_created=now,
                    date_updated=now,
                )
            )
        return sid

    def current_configuration(self) -> dict[str, Any]:
        now = self.expect(200, "GET", "/v1/Configuration", "the account configuration")
        return {
            "DefaultChatServiceSid": now["default_chat_service_sid"],
            "DefaultInactiveTimer": now["default_inactive_timer"] or "PT0S",
            "DefaultClosedTimer": now["default_closed_timer"] or "PT0S",
        }

    def current_configuration_webhook(self) -> dict[str, Any]:
        now = self.expect(200, "GET", "/v1/Configuration/Webhooks", "the account webhook configuration")
        form = {"Method": now["method"] or "POST", "Target": now["target"] or "webhook"}
        if now["filters"]:
            form["Filters"] = now["filters"]
        return form


# What a `{Sid}` means, by the collection it follows: the standing resource and the throwaway maker.
SID_KINDS: dict[str, tuple[Callable[[World, Scope], str], Callable[[World, Scope], str]]] = {
    "Conversations": (lambda w, s: s.conversation(), lambda w, s: s.fresh_conversation()),
    "Participants": (lambda w, s: s.chat_participant(), lambda w, s: s.fresh_participant()),
    "Messages": (lambda w, s: s.message(), lambda w, s: s.fresh_message()),
    "Receipts": (lambda w, s: s.receipt(), lambda w, s: s.receipt()),
    "Webhooks": (lambda w, s: s.webhook(), lambda w, s: s.fresh_webhook()),
    "Roles": (lambda w, s: s.role(), lambda w, s: s.fresh_role()),
    "Users": (lambda w, s: s.user(), lambda w, s: s.fresh_user()),
    "Addresses": (lambda w, s: w.address(), lambda w, s: w.fresh_address()),
    "Credentials": (lambda w, s: w.credential(), lambda w, s: w.fresh_credential()),
    "Services": (lambda w, s: w.service(), lambda w, s: w.fresh_service()),
    "Bindings": (lambda w, s: w.binding(), lambda w, s: w.fresh_binding()),
}


def scope_of(op: spec.Operation, world: World) -> Scope:
    return world.service_scope() if op.path.startswith(SERVICE_PREFIX) else world.account


def path_values(op: spec.Operation, world: World) -> dict[str, str]:
    """Real values for the path parameters of `op`; a DELETE gets a throwaway resource to remove."""
    scope = scope_of(op, world)
    rest = op.path.removeprefix(SERVICE_PREFIX).removeprefix("/v1")
    segments = rest.strip("/").split("/")
    deleting = op.method == "DELETE"
    values: dict[str, str] = {"ChatServiceSid": scope.service_sid} if scope.service_sid else {}
    if re.fullmatch(r"/Users/{UserSid}/Conversations(/{ConversationSid})?", rest):
        user, conversation = scope.fresh_user_conversation() if deleting else scope.user_conversation()
        values.update(UserSid=user, ConversationSid=conversation)
        return values
    for i, segment in enumerate(segments):
        if not segment.startswith("{"):
            continue
        name = segment[1:-1]
        if name == "ConversationSid":
            values[name] = scope.conversation()
        elif name == "MessageSid":
            values[name] = scope.message()
        elif name == "UserSid":
            values[name] = scope.user()
        else:
            standing, fresh = SID_KINDS[segments[i - 1]]
            values[name] = (
                fresh(world, scope) if deleting and i == len(segments) - 1 else standing(world, scope)
            )
    return values


def ensure_listed(op: spec.Operation, world: World) -> None:
    """Make sure the list `op` reads has at least one record, so that records get validated too."""
    scope = scope_of(op, world)
    collection = op.path.rsplit("/", 1)[-1]
    if collection in SID_KINDS:
        SID_KINDS[collection][0](world, scope)
    elif collection == "ParticipantConversations":
        scope.chat_participant()
    elif collection == "Conversations":  # a user's conversations
        scope.user_conversation()
