"""Conversation Services through the official SDK: /v1/Services (create, fetch, list, delete with
everything in it), the service configuration (default roles, reachability) and its push-notification
settings."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, insert, select

from hubbub.domain.sids import new_sid
from hubbub.store import schema
from tests.compat.helpers import assert_error_body, new_number, nothing_written, twilio_error

HEX = "0123456789abcdef" * 2
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
SERVICE_FIELDS = {"account_sid", "sid", "friendly_name", "date_created", "date_updated", "url", "links"}
# Every table whose rows belong to one service (they all carry `chat_service_sid`).
SERVICE_TABLES = ("conversations", "participants", "messages", "receipts", "conversation_webhooks", "users",
                  "bindings", "roles", "service_configurations")


def service_rows(server: Any, sid: str) -> dict[str, int]:
    with server.engine.connect() as conn:
        return {name: int(conn.execute(select(func.count()).select_from(schema.metadata.tables[name]).where(
            schema.metadata.tables[name].c.chat_service_sid == sid)).scalar_one()) for name in SERVICE_TABLES}


@pytest.fixture
def new_service(client: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh, non-default service, deleted afterwards unless the test did."""
    created = client.conversations.v1.services.create(friendly_name=f"svc {request.node.name}"[:256])
    yield created
    try:
        client.conversations.v1.services(created.sid).delete()
    except Exception:  # noqa: BLE001 - the test already deleted it
        pass


# -- services ------------------------------------------------------------------------------------------

def test_create_service(server: Any, client: Any) -> None:
    created = client.conversations.v1.services.create(friendly_name="Support")
    try:
        assert re.match(r"^IS[0-9a-f]{32}$", created.sid)
        assert created.account_sid == server.account_sid
        assert created.friendly_name == "Support"
        assert created.url == f"{server.url}/v1/Services/{created.sid}"
        assert created.links == {
            "conversations": f"{created.url}/Conversations",
            "users": f"{created.url}/Users",
            "roles": f"{created.url}/Roles",
            "bindings": f"{created.url}/Bindings",
            "configuration": f"{created.url}/Configuration",
            "participant_conversations": f"{created.url}/ParticipantConversations",
            "conversation_with_participants": f"{created.url}/ConversationWithParticipants",
        }
        raw = server.http("GET", f"/v1/Services/{created.sid}").json()
        assert set(raw) == SERVICE_FIELDS
        assert ISO.match(raw["date_created"]) and ISO.match(raw["date_updated"])
        fetched = client.conversations.v1.services(created.sid).fetch()
        assert (fetched.sid, fetched.friendly_name, fetched.date_created) == \
               (created.sid, "Support", created.date_created)
    finally:
        client.conversations.v1.services(created.sid).delete()


def test_new_service_has_default_roles_and_configuration(server: Any, client: Any, new_service: Any) -> None:
    config = client.conversations.v1.services(new_service.sid).configuration().fetch()
    assert config.chat_service_sid == new_service.sid
    assert config.reachability_enabled is False
    roles = _roles(server, new_service.sid)
    assert set(roles) == {"service admin", "service user", "channel admin", "channel user"}
    assert config.default_chat_service_role_sid == roles["service user"].sid
    assert config.default_conversation_role_sid == roles["channel user"].sid
    assert config.default_conversation_creator_role_sid == roles["channel admin"].sid


def test_new_service_is_usable_for_conversations(client: Any, new_service: Any) -> None:
    svc = client.conversations.v1.services(new_service.sid)
    conv = svc.conversations.create(friendly_name="in the new service")
    assert conv.chat_service_sid == new_service.sid
    participant = svc.conversations(conv.sid).participants.create(identity="alice")
    config = svc.configuration().fetch()
    assert participant.role_sid == config.default_conversation_role_sid
    # not visible through the default service
    assert conv.sid not in {c.sid for c in client.conversations.v1.conversations.list()}


def test_list_services_pages(server: Any, client: Any) -> None:
    made = [client.conversations.v1.services.create(friendly_name=f"page {n}").sid for n in range(3)]
    try:
        listed = [s.sid for s in client.conversations.v1.services.stream(page_size=2)]
        assert listed[-3:] == made  # oldest first, new ones last
        default = client.conversations.v1.configuration().fetch().default_chat_service_sid
        assert default in listed
        body = server.http("GET", "/v1/Services", params={"PageSize": 1000}).json()
        assert body["meta"]["key"] == "services" and body["meta"]["page_size"] == 100
        assert set(body["services"][0]) == SERVICE_FIELDS
    finally:
        for sid in made:
            client.conversations.v1.services(sid).delete()


def test_accounts_do_not_see_each_others_services(client: Any, other_client: Any, new_service: Any) -> None:
    assert new_service.sid not in {s.sid for s in other_client.conversations.v1.services.list()}
    with twilio_error(404, 20404):
        other_client.conversations.v1.services(new_service.sid).fetch()
    with twilio_error(404, 20404):
        other_client.conversations.v1.services(new_service.sid).delete()
    with twilio_error(404, 20404):
        other_client.conversations.v1.services(new_service.sid).configuration().fetch()
    assert client.conversations.v1.services(new_service.sid).fetch().sid == new_service.sid


@pytest.mark.parametrize("sid", ["IS" + "0" * 32, "IS123", "CH" + HEX, "not-a-sid"])
def test_unknown_service_is_404(server: Any, client: Any, sid: str) -> None:
    with twilio_error(404, 20404):
        client.conversations.v1.services(sid).fetch()
    before = server.count("services")
    with twilio_error(404, 20404):
        client.conversations.v1.services(sid).delete()
    assert server.count("services") == before


@pytest.mark.parametrize(
    "data",
    [{}, {"FriendlyName": ""}, {"FriendlyName": "x" * 257}, {"friendly_name": "lower-case name"}],
)
def test_bad_creates_are_rejected(server: Any, data: dict[str, str]) -> None:
    before = (server.count("services"), server.count("roles"), server.count("service_configurations"))
    with nothing_written(server):
        assert_error_body(server.http("POST", "/v1/Services", data=data), 400, 20001)
    assert (server.count("services"), server.count("roles"), server.count("service_configurations")) == before


def test_friendly_name_of_256_characters(client: Any) -> None:
    created = client.conversations.v1.services.create(friendly_name="n" * 256)
    client.conversations.v1.services(created.sid).delete()
    assert created.friendly_name == "n" * 256


def test_the_default_service_cannot_be_deleted(server: Any, client: Any) -> None:
    default = client.conversations.v1.configuration().fetch().default_chat_service_sid
    before = service_rows(server, default)
    with nothing_written(server), twilio_error(409, 50057):
        client.conversations.v1.services(default).delete()
    assert service_rows(server, default) == before
    assert client.conversations.v1.services(default).fetch().sid == default


def test_a_service_stops_being_the_default_then_can_be_deleted(client: Any, new_service: Any) -> None:
    configuration = client.conversations.v1.configuration()
    old_default = configuration.fetch().default_chat_service_sid
    configuration.update(default_chat_service_sid=new_service.sid)
    try:
        with twilio_error(409, 50057):
            client.conversations.v1.services(new_service.sid).delete()
    finally:
        configuration.update(default_chat_service_sid=old_default)
    assert client.conversations.v1.services(new_service.sid).delete() is True


def test_a_service_used_by_an_address_configuration_cannot_be_deleted(
    server: Any, client: Any, new_service: Any
) -> None:
    address = client.conversations.v1.address_configurations.create(
        type="sms", address=new_number(), auto_creation_enabled=True, auto_creation_type="default",
        auto_creation_conversation_service_sid=new_service.sid)
    try:
        before = service_rows(server, new_service.sid)
        with nothing_written(server), twilio_error(409, 50057):
            client.conversations.v1.services(new_service.sid).delete()
        assert service_rows(server, new_service.sid) == before
    finally:
        client.conversations.v1.address_configurations(address.sid).delete()
    assert client.conversations.v1.services(new_service.sid).delete() is True


def test_deleting_a_service_deletes_everything_in_it(server: Any, client: Any, new_service: Any) -> None:
    default = client.conversations.v1.configuration().fetch().default_chat_service_sid
    svc = client.conversations.v1.services(new_service.sid)
    conv = svc.conversations.create(friendly_name="doomed")
    ctx = svc.conversations(conv.sid)
    ctx.participants.create(identity="alice")
    ctx.participants.create(messaging_binding_address=new_number(),
                            messaging_binding_proxy_address=new_number())
    ctx.messages.create(author="alice", body="hello")  # with a delivery receipt for the SMS participant
    # Users, push bindings and conversation-scoped webhooks are written straight into the database here,
    # so this test depends only on the service API.
    _insert_service_rows(server, new_service.sid, conv.sid)
    in_service = service_rows(server, new_service.sid)
    assert all(count > 0 for count in in_service.values()), in_service
    elsewhere = service_rows(server, default)

    assert svc.delete() is True

    assert service_rows(server, new_service.sid) == dict.fromkeys(SERVICE_TABLES, 0)
    assert service_rows(server, default) == elsewhere
    with twilio_error(404, 20404):
        svc.fetch()
    with twilio_error(404, 20404):
        svc.conversations(conv.sid).fetch()
    assert new_service.sid not in {s.sid for s in client.conversations.v1.services.list()}


def _insert_service_rows(server: Any, service: str, conversation: str) -> None:
    now = 1_700_000_000
    with server.engine.begin() as conn:
        conn.execute(insert(schema.users).values(
            sid=new_sid("US"), account_sid=server.account_sid, chat_service_sid=service, identity="dave",
            attributes="{}", date_created=now, date_updated=now))
        conn.execute(insert(schema.bindings).values(
            sid=new_sid("BS"), account_sid=server.account_sid, chat_service_sid=service,
            endpoint=f"endpoint-{service}", identity="alice", binding_type="fcm", address="token",
            message_types="[]", date_created=now, date_updated=now))
        conn.execute(insert(schema.conversation_webhooks).values(
            sid=new_sid("WH"), account_sid=server.account_sid, chat_service_sid=service,
            conversation_sid=conversation, target="webhook", url="https://example.com/hook", method="POST",
            date_created=now, date_updated=now))


# -- service configuration -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Role:
    sid: str
    type: str


def _roles(server: Any, service: str) -> dict[str, Role]:
    """The service's roles by name, read from the database (this file does not depend on the Roles API)."""
    with server.engine.connect() as conn:
        rows = conn.execute(select(schema.roles.c.friendly_name, schema.roles.c.sid, schema.roles.c.type)
                            .where(schema.roles.c.chat_service_sid == service)).all()
    return {name: Role(sid, type_) for name, sid, type_ in rows}


def test_fetch_service_configuration(server: Any, client: Any, service_sid: str) -> None:
    config = client.conversations.v1.services(service_sid).configuration().fetch()
    url = f"{server.url}/v1/Services/{service_sid}/Configuration"
    assert config.url == url
    assert config.links == {"notifications": f"{url}/Notifications", "webhooks": f"{url}/Webhooks"}
    raw = server.http("GET", f"/v1/Services/{service_sid}/Configuration").json()
    assert set(raw) == {"chat_service_sid", "default_conversation_creator_role_sid",
                        "default_conversation_role_sid", "default_chat_service_role_sid", "url", "links",
                        "reachability_enabled"}
    roles = _roles(server, service_sid)
    assert raw["default_chat_service_role_sid"] == roles["service user"].sid
    assert raw["default_conversation_role_sid"] == roles["channel user"].sid
    assert raw["default_conversation_creator_role_sid"] == roles["channel admin"].sid


def test_update_service_configuration(server: Any, client: Any, new_service: Any) -> None:
    ctx = client.conversations.v1.services(new_service.sid).configuration()
    roles = _roles(server, new_service.sid)
    updated = ctx.update(default_conversation_role_sid=roles["channel admin"].sid,
                         default_chat_service_role_sid=roles["service admin"].sid,
                         reachability_enabled=True)
    assert updated.default_conversation_role_sid == roles["channel admin"].sid
    assert updated.default_chat_service_role_sid == roles["service admin"].sid
    assert updated.default_conversation_creator_role_sid == roles["channel admin"].sid  # untouched
    assert updated.reachability_enabled is True
    again = ctx.update(default_conversation_creator_role_sid=roles["channel user"].sid)
    assert (again.default_conversation_creator_role_sid, again.default_conversation_role_sid,
            again.reachability_enabled) == (roles["channel user"].sid, roles["channel admin"].sid, True)
    assert ctx.fetch().default_chat_service_role_sid == roles["service admin"].sid
    # new participants get the new default conversation role
    conv = client.conversations.v1.services(new_service.sid).conversations.create()
    p = client.conversations.v1.services(new_service.sid).conversations(conv.sid).participants.create(
        identity="bob")
    assert p.role_sid == roles["channel admin"].sid


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"DefaultConversationRoleSid": "service admin"}, 50100),  # a service role
        ({"DefaultConversationCreatorRoleSid": "service user"}, 50100),
        ({"DefaultChatServiceRoleSid": "channel user"}, 50100),  # a conversation role
        ({"DefaultConversationRoleSid": "RL" + "0" * 32}, 50100),  # no such role
        ({"DefaultChatServiceRoleSid": "other service"}, 50100),  # a role of another service
        ({"DefaultConversationRoleSid": "RL123"}, 20001),
        ({"DefaultChatServiceRoleSid": "US" + HEX}, 20001),
        ({"ReachabilityEnabled": "maybe"}, 20001),
        ({"ReachabilityEnabled": "true", "DefaultConversationRoleSid": "service user"}, 50100),
    ],
)
def test_bad_configuration_updates_change_nothing(
    server: Any, client: Any, new_service: Any, service_sid: str, params: dict[str, str], code: int
) -> None:
    mine, default_roles = _roles(server, new_service.sid), _roles(server, service_sid)
    data = {}
    for name, value in params.items():
        if value in mine:
            value = mine[value].sid
        elif value == "other service":
            value = default_roles["service user"].sid
        data[name] = value
    path = f"/v1/Services/{new_service.sid}/Configuration"
    before = server.http("GET", path).json()
    with nothing_written(server):
        assert_error_body(server.http("POST", path, data=data), 400, code)
    assert server.http("GET", path).json() == before


def test_configuration_of_unknown_service_is_404(server: Any) -> None:
    for sid in ("IS" + "0" * 32, "ISnope"):
        assert_error_body(server.http("GET", f"/v1/Services/{sid}/Configuration"), 404, 20404)
        assert_error_body(server.http("POST", f"/v1/Services/{sid}/Configuration",
                                      data={"ReachabilityEnabled": "true"}), 404, 20404)


# -- push notification settings -----------------------------------------------------------------------

def test_notification_defaults(server: Any, client: Any, new_service: Any) -> None:
    n = client.conversations.v1.services(new_service.sid).configuration.notifications().fetch()
    assert n.account_sid == server.account_sid and n.chat_service_sid == new_service.sid
    assert n.url == f"{server.url}/v1/Services/{new_service.sid}/Configuration/Notifications"
    assert n.log_enabled is False
    assert n.new_message == {"enabled": False, "template": None, "sound": None, "badge_count_enabled": False,
                             "with_media": {"enabled": False, "template": None}}
    assert n.added_to_conversation == {"enabled": False, "template": None, "sound": None}
    assert n.removed_from_conversation == {"enabled": False, "template": None, "sound": None}
    raw = server.http("GET", f"/v1/Services/{new_service.sid}/Configuration/Notifications").json()
    assert set(raw) == {"account_sid", "chat_service_sid", "new_message", "added_to_conversation",
                        "removed_from_conversation", "log_enabled", "url"}


def test_update_every_notification_setting(client: Any, new_service: Any) -> None:
    ctx = client.conversations.v1.services(new_service.sid).configuration.notifications()
    updated = ctx.update(
        log_enabled=True,
        new_message_enabled=True, new_message_template="New in ${CONVERSATION}: ${MESSAGE}",
        new_message_sound="ring", new_message_badge_count_enabled=True,
        new_message_with_media_enabled=True, new_message_with_media_template="${MEDIA_COUNT} files",
        added_to_conversation_enabled=True, added_to_conversation_template="Added to ${CONVERSATION}",
        added_to_conversation_sound="chime",
        removed_from_conversation_enabled=True, removed_from_conversation_template="Removed",
        removed_from_conversation_sound="thud",
    )
    expected = {
        "log_enabled": True,
        "new_message": {"enabled": True, "template": "New in ${CONVERSATION}: ${MESSAGE}", "sound": "ring",
                        "badge_count_enabled": True,
                        "with_media": {"enabled": True, "template": "${MEDIA_COUNT} files"}},
        "added_to_conversation": {"enabled": True, "template": "Added to ${CONVERSATION}", "sound": "chime"},
        "removed_from_conversation": {"enabled": True, "template": "Removed", "sound": "thud"},
    }
    for fetched in (updated, ctx.fetch()):
        assert {name: getattr(fetched, name) for name in expected} == expected


def test_notification_update_changes_only_what_it_names(client: Any, new_service: Any) -> None:
    ctx = client.conversations.v1.services(new_service.sid).configuration.notifications()
    ctx.update(new_message_enabled=True, new_message_template="hi ${MESSAGE}", new_message_sound="ring")
    after = ctx.update(new_message_with_media_enabled=True, added_to_conversation_enabled=True)
    assert after.new_message == {"enabled": True, "template": "hi ${MESSAGE}", "sound": "ring",
                                 "badge_count_enabled": False,
                                 "with_media": {"enabled": True, "template": None}}
    assert after.added_to_conversation["enabled"] is True
    assert after.removed_from_conversation["enabled"] is False
    # an empty template or sound goes back to the default (null)
    cleared = ctx.update(new_message_template="", new_message_sound="")
    assert (cleared.new_message["template"], cleared.new_message["sound"]) == (None, None)
    assert cleared.new_message["enabled"] is True


def test_notifications_are_per_service(client: Any, new_service: Any, service_sid: str) -> None:
    client.conversations.v1.services(new_service.sid).configuration.notifications().update(log_enabled=True)
    other = client.conversations.v1.services(service_sid).configuration.notifications().fetch()
    assert other.chat_service_sid == service_sid
    assert other.log_enabled is False


@pytest.mark.parametrize(
    "data",
    [
        {"LogEnabled": "yes"},
        {"NewMessage.Enabled": "1.0"},
        {"NewMessage.BadgeCountEnabled": ""},
        {"NewMessage.WithMedia.Enabled": "nope"},
        {"AddedToConversation.Enabled": "TRUE!"},
        {"RemovedFromConversation.Enabled": "off"},
        {"NewMessage.Template": "t" * 1025},
        {"NewMessage.WithMedia.Template": "t" * 1025},
        {"AddedToConversation.Sound": "s" * 257},
        {"RemovedFromConversation.Template": "t" * 1025, "LogEnabled": "true"},
    ],
)
def test_bad_notification_updates_change_nothing(server: Any, new_service: Any, data: dict[str, str]) -> None:
    path = f"/v1/Services/{new_service.sid}/Configuration/Notifications"
    before = server.http("GET", path).json()
    with nothing_written(server):
        assert_error_body(server.http("POST", path, data=data), 400, 20001)
    assert server.http("GET", path).json() == before


def test_notifications_of_another_accounts_service_are_404(other_client: Any, new_service: Any) -> None:
    ctx = other_client.conversations.v1.services(new_service.sid).configuration.notifications()
    with twilio_error(404, 20404):
        ctx.fetch()
    with twilio_error(404, 20404):
        ctx.update(log_enabled=True)


def test_unsupported_methods_are_405(server: Any, new_service: Any) -> None:
    assert_error_body(server.http("POST", f"/v1/Services/{new_service.sid}", data={"FriendlyName": "x"}),
                      405, 20004)
    assert_error_body(server.http("DELETE", f"/v1/Services/{new_service.sid}/Configuration"), 405, 20004)
