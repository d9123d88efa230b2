"""Roles through the official SDK: the four default roles of every service, create / list / fetch /
update (the permission set is replaced) / delete, permission names checked against the role's type, and
roles that are still in use refusing to be deleted."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from hubbub.actions.accounts import do_create_service
from hubbub.domain.roles import DEFAULT_ROLES

from .helpers import assert_error_body, nothing_written, twilio_error

RL_RE = re.compile(r"^RL[0-9a-f]{32}$")
DATE_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
ROLE_FIELDS = {
    "sid",
    "account_sid",
    "chat_service_sid",
    "friendly_name",
    "type",
    "permissions",
    "date_created",
    "date_updated",
    "url",
}


@pytest.fixture
def fresh_service(server: Any) -> str:
    """A new Conversation Service of the account, holding nothing but its four default roles."""
    with server.engine.begin() as conn:
        return do_create_service(conn, server.account_sid, "roles test")


def role_count(server: Any) -> int:
    return server.count("roles")


# -- defaults ------------------------------------------------------------------------------------------


def test_every_service_starts_with_the_four_default_roles(client: Any, fresh_service: str) -> None:
    found = client.conversations.v1.services(fresh_service).roles.list()
    assert sorted((r.friendly_name, r.type, tuple(r.permissions)) for r in found) == sorted(DEFAULT_ROLES)
    assert all(RL_RE.match(r.sid) and r.chat_service_sid == fresh_service for r in found)


def test_default_service_roles_are_listed_under_v1(client: Any, service_sid: str) -> None:
    names = {(r.friendly_name, r.type) for r in client.conversations.v1.roles.list()}
    assert {(name, role_type) for name, role_type, _ in DEFAULT_ROLES} <= names
    assert all(r.chat_service_sid == service_sid for r in client.conversations.v1.roles.list())


# -- create / fetch / list -------------------------------------------------------------------------------


def test_create_conversation_role(server: Any, client: Any, service_sid: str) -> None:
    role = client.conversations.v1.roles.create(
        friendly_name="moderator",
        type="conversation",
        permission=["sendMessage", "deleteAnyMessage", "sendMessage"],
    )
    assert RL_RE.match(role.sid)
    assert role.account_sid == server.account_sid
    assert role.chat_service_sid == service_sid
    assert (role.friendly_name, role.type) == ("moderator", "conversation")
    assert role.permissions == ["sendMessage", "deleteAnyMessage"]  # repeats collapse, order kept
    assert role.date_created is not None and role.date_created == role.date_updated
    assert role.url == f"{server.url}/v1/Roles/{role.sid}"


def test_role_json_has_exactly_the_spec_fields(server: Any, service_sid: str) -> None:
    response = server.http(
        "POST",
        "/v1/Roles",
        data={
            "FriendlyName": "shape",
            "Type": "service",
            "Permission": ["createConversation", "joinConversation"],
        },
    )
    assert response.status_code == 201
    body = response.json()
    assert set(body) == ROLE_FIELDS
    assert body["permissions"] == ["createConversation", "joinConversation"]
    assert DATE_RE.match(body["date_created"]) and DATE_RE.match(body["date_updated"])
    fetched = server.http("GET", f"/v1/Services/{service_sid}/Roles/{body['sid']}").json()
    assert fetched == body | {"url": f"{server.url}/v1/Services/{service_sid}/Roles/{body['sid']}"}


def test_create_and_fetch_in_a_service(server: Any, client: Any, fresh_service: str) -> None:
    roles = client.conversations.v1.services(fresh_service).roles
    role = roles.create(friendly_name="svc", type="service", permission=["editOwnUserInfo"])
    assert role.chat_service_sid == fresh_service
    assert role.url == f"{server.url}/v1/Services/{fresh_service}/Roles/{role.sid}"
    fetched = roles(role.sid).fetch()
    assert (fetched.sid, fetched.friendly_name, fetched.type, fetched.permissions) == (
        role.sid,
        "svc",
        "service",
        ["editOwnUserInfo"],
    )
    # a role of another service is not found through the default service's paths
    with twilio_error(404, 20404):
        client.conversations.v1.roles(role.sid).fetch()


def test_list_roles_across_pages(client: Any, fresh_service: str) -> None:
    roles = client.conversations.v1.services(fresh_service).roles
    made = [
        roles.create(friendly_name=f"r{i}", type="conversation", permission=["sendMessage"]).sid
        for i in range(3)
    ]
    listed = [r.sid for r in roles.stream(page_size=2)]
    assert len(listed) == 7 and listed[4:] == made


def test_list_page_size_is_capped_at_50(server: Any) -> None:
    body = server.http("GET", "/v1/Roles", params={"PageSize": 500}).json()
    assert body["meta"]["page_size"] == 50 and body["meta"]["key"] == "roles"


# -- update ----------------------------------------------------------------------------------------------


def test_update_replaces_the_whole_permission_set(client: Any, fresh_service: str) -> None:
    roles = client.conversations.v1.services(fresh_service).roles
    role = roles.create(
        friendly_name="editor",
        type="conversation",
        permission=["sendMessage", "editOwnMessage", "deleteOwnMessage"],
    )
    updated = roles(role.sid).update(permission=["sendMediaMessage"])
    assert updated.permissions == ["sendMediaMessage"]
    assert (updated.friendly_name, updated.type) == ("editor", "conversation")
    assert roles(role.sid).fetch().permissions == ["sendMediaMessage"]


def test_update_checks_permissions_against_the_roles_type(server: Any, client: Any) -> None:
    role = client.conversations.v1.roles.create(
        friendly_name="typed", type="service", permission=["createConversation"]
    )
    before = server.http("GET", f"/v1/Roles/{role.sid}").json()
    with nothing_written(server):
        with twilio_error(400, 50104):
            client.conversations.v1.roles(role.sid).update(permission=["sendMessage"])  # a conversation one
        with twilio_error(400, 50104):
            client.conversations.v1.roles(role.sid).update(permission=["createConversation", "fly"])
        response = server.http("POST", f"/v1/Roles/{role.sid}", data={})
        assert_error_body(response, 400, 20001)
    assert server.http("GET", f"/v1/Roles/{role.sid}").json() == before


# -- delete ----------------------------------------------------------------------------------------------


def test_delete_role(server: Any, client: Any) -> None:
    role = client.conversations.v1.roles.create(
        friendly_name="temp", type="conversation", permission=["sendMessage"]
    )
    count = role_count(server)
    assert client.conversations.v1.roles(role.sid).delete() is True
    assert role_count(server) == count - 1
    with twilio_error(404, 20404):
        client.conversations.v1.roles(role.sid).fetch()
    with twilio_error(404, 20404):
        client.conversations.v1.roles(role.sid).delete()


@pytest.mark.parametrize("name", ["service user", "channel user", "channel admin"])
def test_default_roles_of_the_configuration_cannot_be_deleted(
    server: Any, client: Any, fresh_service: str, name: str
) -> None:
    roles = client.conversations.v1.services(fresh_service).roles
    sid = next(r.sid for r in roles.list() if r.friendly_name == name)
    count = role_count(server)
    with nothing_written(server):
        with twilio_error(409, 50108) as info:
            roles(sid).delete()
    assert "default role" in info.value.msg
    assert role_count(server) == count
    assert roles(sid).fetch().friendly_name == name


def test_role_of_a_participant_cannot_be_deleted(server: Any, client: Any, conversation: Any) -> None:
    role = client.conversations.v1.roles.create(
        friendly_name="vip", type="conversation", permission=["sendMessage"]
    )
    participant = client.conversations.v1.conversations(conversation.sid).participants.create(
        identity="role-holder", role_sid=role.sid
    )
    count = role_count(server)
    with nothing_written(server):
        with twilio_error(409, 50108) as info:
            client.conversations.v1.roles(role.sid).delete()
    assert "participant" in info.value.msg and role_count(server) == count
    # once nobody holds it any more it can go
    client.conversations.v1.conversations(conversation.sid).participants(participant.sid).delete()
    assert client.conversations.v1.roles(role.sid).delete() is True


def test_role_of_a_user_cannot_be_deleted(server: Any, client: Any, request: pytest.FixtureRequest) -> None:
    role = client.conversations.v1.roles.create(
        friendly_name="staff", type="service", permission=["createConversation"]
    )
    user = client.conversations.v1.users.create(identity=f"role-user-{request.node.name}", role_sid=role.sid)
    count = role_count(server)
    with twilio_error(409, 50108) as info:
        client.conversations.v1.roles(role.sid).delete()
    assert "user" in info.value.msg and role_count(server) == count
    client.conversations.v1.users(user.sid).delete()
    assert client.conversations.v1.roles(role.sid).delete() is True


# -- bad input -------------------------------------------------------------------------------------------

BAD_CREATES = [
    ({"Type": "service", "Permission": "createConversation"}, 400, 20001),  # no FriendlyName
    ({"FriendlyName": "", "Type": "service", "Permission": "createConversation"}, 400, 20001),
    ({"FriendlyName": "x" * 65, "Type": "service", "Permission": "createConversation"}, 400, 20001),
    ({"FriendlyName": "x", "Permission": "createConversation"}, 400, 20001),  # no Type
    ({"FriendlyName": "x", "Type": "channel", "Permission": "createConversation"}, 400, 50105),
    ({"FriendlyName": "x", "Type": "service"}, 400, 20001),  # no Permission
    ({"FriendlyName": "x", "Type": "service", "Permission": "launchRockets"}, 400, 50104),
    ({"FriendlyName": "x", "Type": "service", "Permission": "sendMessage"}, 400, 50104),  # conversation-only
    ({"FriendlyName": "x", "Type": "conversation", "Permission": "createConversation"}, 400, 50104),
    ({"FriendlyName": "x", "Type": "conversation", "Permission": ""}, 400, 50104),
]


@pytest.mark.parametrize(("data", "status", "code"), BAD_CREATES)
def test_bad_creates_write_nothing(
    server: Any, service_sid: str, data: dict[str, str], status: int, code: int
) -> None:
    count = role_count(server)
    with nothing_written(server):
        for root in ("/v1", f"/v1/Services/{service_sid}"):
            assert_error_body(server.http("POST", f"{root}/Roles", data=data), status, code)
    assert role_count(server) == count


def test_bad_create_through_the_sdk(server: Any, client: Any) -> None:
    count = role_count(server)
    with twilio_error(400, 50104):
        client.conversations.v1.roles.create(
            friendly_name="x", type="conversation", permission=["sendMessage", "joinConversation"]
        )
    assert role_count(server) == count


@pytest.mark.parametrize("sid", ["RL123", "nonsense", "RL" + "0" * 32, "CH" + "0" * 32])
def test_unknown_or_malformed_role_sids_are_404(server: Any, client: Any, sid: str) -> None:
    count = role_count(server)
    with twilio_error(404, 20404):
        client.conversations.v1.roles(sid).fetch()
    with twilio_error(404, 20404):
        client.conversations.v1.roles(sid).update(permission=["sendMessage"])
    with twilio_error(404, 20404):
        client.conversations.v1.roles(sid).delete()
    assert role_count(server) == count


def test_another_accounts_roles_are_invisible(
    server: Any, client: Any, other_client: Any, other_auth: tuple[str, str], service_sid: str
) -> None:
    role = client.conversations.v1.roles.create(
        friendly_name="mine", type="conversation", permission=["sendMessage"]
    )
    other = other_client.conversations.v1
    assert role.sid not in {r.sid for r in other.roles.list()}
    count = role_count(server)
    with twilio_error(404, 20404):
        other.roles(role.sid).fetch()
    with twilio_error(404, 20404):
        other.roles(role.sid).update(permission=["sendMediaMessage"])
    with twilio_error(404, 20404):
        other.roles(role.sid).delete()
    assert_error_body(server.http("GET", f"/v1/Services/{service_sid}/Roles", auth=other_auth), 404, 20404)
    with twilio_error(404, 20404):
        other.services(service_sid).roles.create(
            friendly_name="x", type="service", permission=["joinConversation"]
        )
    assert role_count(server) == count
    assert json.loads(server.http("GET", f"/v1/Roles/{role.sid}").text)["permissions"] == ["sendMessage"]
