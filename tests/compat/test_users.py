"""Users through the official SDK: create / list / fetch (by SID or identity) / update / delete, in the
default service and under /v1/Services/{IS}, their events, and the user a chat identity gets when it
first joins a conversation."""

from __future__ import annotations

import itertools
import json
import re
import secrets
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import select

from hubbub.actions.accounts import do_create_service
from hubbub.store.schema import events, users

from .helpers import assert_error_body, new_number, nothing_written, twilio_error
from .spec import operations, schema_errors

US_RE = re.compile(r"^US[0-9a-f]{32}$")
_ids = itertools.count()


def new_identity(prefix: str = "user") -> str:
    """An identity no other test uses (the server, and its users, are shared by the whole session)."""
    return f"{prefix}-{next(_ids)}-{secrets.token_hex(3)}"


def assert_matches_spec(operation_id: str, body: Any) -> None:
    (op,) = [o for o in operations() if o.operation_id == operation_id]
    assert schema_errors(op.response_schema() or {}, body) == []


@pytest.fixture
def fresh_service(server: Any) -> str:
    with server.engine.begin() as conn:
        return do_create_service(conn, server.account_sid, "users test")


def default_role(client: Any, service: str, name: str = "service user") -> str:
    sid: str = next(
        r.sid for r in client.conversations.v1.services(service).roles.list() if r.friendly_name == name
    )
    return sid


def users_of(server: Any, service: str) -> list[dict[str, Any]]:
    with server.engine.connect() as conn:
        return [
            dict(r)
            for r in conn.execute(
                select(users).where(users.c.chat_service_sid == service).order_by(users.c.id)
            ).mappings()
        ]


def events_after(server: Any, position: int, kind: str) -> list[dict[str, Any]]:
    with server.engine.connect() as conn:
        rows = conn.execute(
            select(events.c.payload)
            .where(events.c.id > position, events.c.type == kind)
            .order_by(events.c.id)
        ).scalars()
        return [json.loads(p) for p in rows]


def last_event(server: Any) -> int:
    with server.engine.connect() as conn:
        return int(conn.execute(select(events.c.id).order_by(events.c.id.desc()).limit(1)).scalar() or 0)


def written(server: Any) -> dict[str, int]:
    return server.counts() | {"users": server.count("users")}


# -- create / fetch / list / update / delete ------------------------------------------------------------


def test_create_user_shape_and_default_role(server: Any, client: Any, service_sid: str) -> None:
    identity = new_identity()
    user = client.conversations.v1.users.create(identity=identity)
    assert US_RE.match(user.sid)
    assert (user.account_sid, user.chat_service_sid, user.identity) == (
        server.account_sid,
        service_sid,
        identity,
    )
    assert user.role_sid == default_role(client, service_sid)
    assert (user.friendly_name, user.attributes, user.is_online, user.is_notifiable) == (
        None,
        "{}",
        None,
        None,
    )
    assert user.date_created is not None and user.date_created == user.date_updated
    assert user.url == f"{server.url}/v1/Users/{user.sid}"
    assert user.links == {"user_conversations": f"{server.url}/v1/Users/{user.sid}/Conversations"}


def test_user_json_matches_the_spec(server: Any, service_sid: str) -> None:
    response = server.http(
        "POST",
        "/v1/Users",
        data={"Identity": new_identity(), "FriendlyName": "Ann", "Attributes": '{"team": "blue"}'},
    )
    assert response.status_code == 201
    body = response.json()
    assert_matches_spec("CreateUser", body)
    fetched = server.http("GET", f"/v1/Services/{service_sid}/Users/{body['sid']}")
    assert_matches_spec("FetchServiceUser", fetched.json())
    url = f"{server.url}/v1/Services/{service_sid}/Users/{body['sid']}"
    assert fetched.json() == body | {"url": url, "links": {"user_conversations": f"{url}/Conversations"}}
    listed = server.http("GET", "/v1/Users", params={"PageSize": 500}).json()
    assert_matches_spec("ListUser", listed)
    assert listed["meta"]["page_size"] == 50 and listed["meta"]["key"] == "users"


def test_create_with_every_field(client: Any, service_sid: str) -> None:
    role = client.conversations.v1.roles.create(
        friendly_name="staff", type="service", permission=["createConversation", "editAnyUserInfo"]
    )
    user = client.conversations.v1.users.create(
        identity=new_identity(), friendly_name="Bea", attributes='{"floor": 3}', role_sid=role.sid
    )
    assert (user.friendly_name, json.loads(user.attributes), user.role_sid) == ("Bea", {"floor": 3}, role.sid)


@pytest.mark.parametrize("identity", ["carol+work@example.com", "urn:user:42", "Carol Jones", "Zoë 😀"])
def test_fetch_by_sid_and_by_identity(server: Any, client: Any, identity: str) -> None:
    identity = f"{identity} {next(_ids)}"
    user = client.conversations.v1.users.create(identity=identity)
    assert client.conversations.v1.users(user.sid).fetch().identity == identity
    assert client.conversations.v1.users(identity).fetch().sid == user.sid
    response = server.http("GET", f"/v1/Users/{quote(identity, safe='')}")  # fully percent-encoded
    assert (response.status_code, response.json()["sid"]) == (200, user.sid)


def test_list_users_across_pages(client: Any, fresh_service: str) -> None:
    service = client.conversations.v1.services(fresh_service)
    made = [service.users.create(identity=f"pager-{i}").sid for i in range(5)]
    assert [u.sid for u in service.users.stream(page_size=2)] == made
    assert [u.sid for u in service.users.list(limit=3)] == made[:3]
    assert all(u.is_online is None and u.is_notifiable is None for u in service.users.list())


def test_update_user(server: Any, client: Any) -> None:
    identity = new_identity()
    user = client.conversations.v1.users.create(identity=identity, friendly_name="old")
    role = client.conversations.v1.roles.create(
        friendly_name="lead", type="service", permission=["createConversation"]
    )
    updated = client.conversations.v1.users(identity).update(
        friendly_name="new", attributes='{"a": 1}', role_sid=role.sid
    )
    assert (updated.sid, updated.identity, updated.friendly_name) == (user.sid, identity, "new")
    assert (updated.attributes, updated.role_sid) == ('{"a": 1}', role.sid)
    # what is not given stays as it is
    again = client.conversations.v1.users(user.sid).update(friendly_name="newer")
    assert (again.attributes, again.role_sid) == ('{"a": 1}', role.sid)
    assert client.conversations.v1.users(user.sid).fetch().friendly_name == "newer"


def test_delete_user(server: Any, client: Any) -> None:
    identity = new_identity()
    user = client.conversations.v1.users.create(identity=identity)
    assert client.conversations.v1.users(identity).delete() is True
    with twilio_error(404, 20404):
        client.conversations.v1.users(user.sid).fetch()
    with twilio_error(404, 20404):
        client.conversations.v1.users(user.sid).delete()
    # the identity is free again
    assert client.conversations.v1.users.create(identity=identity).sid != user.sid


def test_users_of_a_service_are_scoped_to_it(server: Any, client: Any, fresh_service: str) -> None:
    identity = new_identity()
    service = client.conversations.v1.services(fresh_service)
    user = service.users.create(identity=identity)
    assert user.chat_service_sid == fresh_service
    assert user.role_sid == default_role(client, fresh_service)
    assert user.url == f"{server.url}/v1/Services/{fresh_service}/Users/{user.sid}"
    assert service.users(identity).fetch().sid == user.sid
    with twilio_error(404, 20404):
        client.conversations.v1.users(identity).fetch()  # not a user of the default service
    # the same identity may exist in another service
    assert client.conversations.v1.users.create(identity=identity).sid != user.sid


# -- events ----------------------------------------------------------------------------------------------


def test_user_events(server: Any, client: Any) -> None:
    start = last_event(server)
    identity = new_identity()
    user = client.conversations.v1.users.create(identity=identity, x_twilio_webhook_enabled="true")
    client.conversations.v1.users(user.sid).update(friendly_name="Dee")
    client.conversations.v1.users(user.sid).delete(x_twilio_webhook_enabled="false")
    added = events_after(server, start, "onUserAdded")
    assert [(e["data"]["user"]["sid"], e["webhook_enabled"]) for e in added] == [(user.sid, True)]
    updated = events_after(server, start, "onUserUpdated")
    assert [(e["data"]["user"]["friendly_name"], e["webhook_enabled"]) for e in updated] == [("Dee", False)]
    removed = events_after(server, start, "onUserRemoved")
    assert [e["data"]["user"]["identity"] for e in removed] == [identity]


# -- a user per chat identity that joins ----------------------------------------------------------------


def test_first_join_creates_the_user_with_the_default_role(
    server: Any, client: Any, service_sid: str
) -> None:
    identity = new_identity("joiner")
    start = last_event(server)
    first = client.conversations.v1.conversations.create()
    second = client.conversations.v1.conversations.create()
    client.conversations.v1.conversations(first.sid).participants.create(identity=identity)
    user = client.conversations.v1.users(identity).fetch()
    assert (user.identity, user.role_sid, user.attributes) == (
        identity,
        default_role(client, service_sid),
        "{}",
    )
    assert [e["data"]["user"]["sid"] for e in events_after(server, start, "onUserAdded")] == [user.sid]
    # joining another conversation keeps the same user
    client.conversations.v1.conversations(second.sid).participants.create(identity=identity)
    assert [u["sid"] for u in users_of(server, service_sid) if u["identity"] == identity] == [user.sid]
    assert len(events_after(server, start, "onUserAdded")) == 1


def test_an_existing_user_is_kept_when_it_joins(client: Any, conversation: Any) -> None:
    identity = new_identity()
    user = client.conversations.v1.users.create(
        identity=identity, friendly_name="Kept", attributes='{"k": 1}'
    )
    client.conversations.v1.conversations(conversation.sid).participants.create(identity=identity)
    fetched = client.conversations.v1.users(identity).fetch()
    assert (fetched.sid, fetched.friendly_name, fetched.attributes) == (user.sid, "Kept", '{"k": 1}')


def test_simultaneous_first_joins_make_one_user(server: Any, client: Any, service_sid: str) -> None:
    identity = new_identity("crowd")
    rooms = [client.conversations.v1.conversations.create().sid for _ in range(8)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(
            pool.map(
                lambda sid: server.http(
                    "POST", f"/v1/Conversations/{sid}/Participants", data={"Identity": identity}
                ),
                rooms,
            )
        )
    assert [r.status_code for r in responses] == [201] * len(rooms)
    assert len([u for u in users_of(server, service_sid) if u["identity"] == identity]) == 1
    found = client.conversations.v1.participant_conversations.list(identity=identity)
    assert sorted(pc.conversation_sid for pc in found) == sorted(rooms)


def test_changing_a_participants_identity_creates_its_user(client: Any, conversation: Any) -> None:
    before, after = new_identity(), new_identity()
    participant = client.conversations.v1.conversations(conversation.sid).participants.create(identity=before)
    client.conversations.v1.conversations(conversation.sid).participants(participant.sid).update(
        identity=after
    )
    assert client.conversations.v1.users(after).fetch().identity == after
    assert client.conversations.v1.users(before).fetch().identity == before  # the old user stays


def test_sms_participants_do_not_become_users(server: Any, client: Any, fresh_service: str) -> None:
    service = client.conversations.v1.services(fresh_service)
    conversation = service.conversations.create()
    service.conversations(conversation.sid).participants.create(
        messaging_binding_address=new_number(), messaging_binding_proxy_address=new_number()
    )
    assert users_of(server, fresh_service) == []
    service.conversations(conversation.sid).participants.create(identity="in-service")
    (user,) = users_of(server, fresh_service)
    assert (user["identity"], user["role_sid"]) == ("in-service", default_role(client, fresh_service))


def test_a_failed_join_creates_no_user(server: Any, client: Any, conversation: Any) -> None:
    identity = new_identity()
    participants = client.conversations.v1.conversations(conversation.sid).participants
    with nothing_written(server):
        with twilio_error(400, 20001):
            participants.create(identity=identity, role_sid="RL" + "0" * 32)
    with twilio_error(404, 20404):
        client.conversations.v1.users(identity).fetch()


# -- bad input -------------------------------------------------------------------------------------------


def test_duplicate_identity_is_a_conflict(server: Any, client: Any) -> None:
    identity = new_identity()
    client.conversations.v1.users.create(identity=identity)
    before = written(server)
    with twilio_error(409, 50201):
        client.conversations.v1.users.create(identity=identity)
    assert written(server) == before


def test_a_joined_identity_cannot_be_created_again(server: Any, client: Any, conversation: Any) -> None:
    identity = new_identity()
    client.conversations.v1.conversations(conversation.sid).participants.create(identity=identity)
    before = written(server)
    with twilio_error(409, 50201):
        client.conversations.v1.users.create(identity=identity)
    assert written(server) == before


BAD_CREATES = [
    ({}, 400, 20001),
    ({"Identity": ""}, 400, 20001),
    ({"Identity": "x" * 257}, 400, 20001),
    ({"Identity": "US" + "ab" * 16}, 400, 50206),
    ({"Identity": "ok", "FriendlyName": "x" * 257}, 400, 20001),
    ({"Identity": "ok", "Attributes": "{not json"}, 400, 50006),
    ({"Identity": "ok", "Attributes": json.dumps({"x": "y" * 16 * 1024})}, 400, 50006),
    ({"Identity": "ok", "RoleSid": "RL123"}, 400, 20001),
    ({"Identity": "ok", "RoleSid": "RL" + "0" * 32}, 400, 50100),
]


@pytest.mark.parametrize(("data", "status", "code"), BAD_CREATES)
def test_bad_creates_write_nothing(
    server: Any, service_sid: str, data: dict[str, str], status: int, code: int
) -> None:
    data = dict(data)
    if data.get("Identity") == "ok":
        data["Identity"] = new_identity()
    before = written(server)
    for root in ("/v1", f"/v1/Services/{service_sid}"):
        assert_error_body(server.http("POST", f"{root}/Users", data=data), status, code)
    assert written(server) == before


def test_role_must_be_a_service_role_of_the_users_service(
    server: Any, client: Any, fresh_service: str
) -> None:
    conversation_role = default_role(client, fresh_service, "channel user")
    other_service_role = default_role(client, fresh_service, "service user")
    identity = new_identity()
    before = written(server)
    with twilio_error(400, 50100):
        client.conversations.v1.services(fresh_service).users.create(
            identity=identity, role_sid=conversation_role
        )
    with twilio_error(400, 50100):
        client.conversations.v1.users.create(identity=identity, role_sid=other_service_role)
    assert written(server) == before
    user = client.conversations.v1.users.create(identity=identity)
    before = written(server)
    with twilio_error(400, 50100):
        client.conversations.v1.users(user.sid).update(role_sid=other_service_role)
    with twilio_error(400, 20001):
        client.conversations.v1.users(user.sid).update(role_sid="nonsense")
    with twilio_error(400, 50006):
        client.conversations.v1.users(user.sid).update(attributes="[unclosed")
    assert written(server) == before
    assert client.conversations.v1.users(user.sid).fetch().role_sid == user.role_sid


@pytest.mark.parametrize("key", ["nobody-at-all", "US" + "0" * 32])
def test_unknown_users_are_404(server: Any, client: Any, key: str) -> None:
    before = written(server)
    with twilio_error(404, 20404):
        client.conversations.v1.users(key).fetch()
    with twilio_error(404, 20404):
        client.conversations.v1.users(key).update(friendly_name="x")
    with twilio_error(404, 20404):
        client.conversations.v1.users(key).delete()
    assert written(server) == before


def test_another_accounts_users_are_invisible(
    server: Any, client: Any, other_client: Any, other_auth: tuple[str, str], service_sid: str
) -> None:
    identity = new_identity()
    user = client.conversations.v1.users.create(identity=identity)
    other = other_client.conversations.v1
    assert identity not in {u.identity for u in other.users.list()}
    before = written(server)
    for key in (user.sid, identity):
        with twilio_error(404, 20404):
            other.users(key).fetch()
        with twilio_error(404, 20404):
            other.users(key).update(friendly_name="intruder")
        with twilio_error(404, 20404):
            other.users(key).delete()
    with twilio_error(404, 20404):
        other.services(service_sid).users.create(identity="intruder")
    assert_error_body(server.http("GET", f"/v1/Services/{service_sid}/Users", auth=other_auth), 404, 20404)
    assert written(server) == before
    assert client.conversations.v1.users(user.sid).fetch().friendly_name is None
