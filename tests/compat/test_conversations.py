"""Conversations through the official SDK: create/fetch/update/delete/list on /v1/Conversations and on
/v1/Services/{IS}/Conversations, unique names as identifiers, list filters, states and timers."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from .helpers import assert_error_body, nothing_written, twilio_error

SID_RE = re.compile(r"^CH[0-9a-f]{32}$")


def parse(ts: str) -> datetime:
    return datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


# -- create / fetch ------------------------------------------------------------------------------------


def test_create_returns_the_twilio_shape(server: Any, client: Any, conversations: Any, service_sid: str) -> None:
    conv = conversations.create(friendly_name="Support chat", attributes='{"topic": "billing"}')
    assert SID_RE.match(conv.sid)
    assert conv.account_sid == server.account_sid
    assert conv.chat_service_sid == service_sid
    assert conv.messaging_service_sid is None
    assert conv.friendly_name == "Support chat"
    assert conv.unique_name is None
    assert json.loads(conv.attributes) == {"topic": "billing"}
    assert conv.state == "active"
    assert conv.timers == {}
    assert conv.bindings == {}
    # the SDK parses dates only when they are in Twilio's exact format
    assert isinstance(conv.date_created, datetime) and conv.date_created == conv.date_updated
    assert conv.url == f"{server.url}/v1/Conversations/{conv.sid}"
    assert conv.links == {
        name: f"{conv.url}/{name.title()}" for name in ("participants", "messages", "webhooks", "export")
    }


def test_attributes_default_to_an_empty_json_object(conversation: Any) -> None:
    assert conversation.attributes == "{}"


def test_fetch_by_sid_and_by_unique_name(conversations: Any, client: Any) -> None:
    conv = conversations.create(unique_name="fetch-by-unique-name", friendly_name="u")
    by_sid = client.conversations.v1.conversations(conv.sid).fetch()
    by_name = client.conversations.v1.conversations("fetch-by-unique-name").fetch()
    assert by_sid.sid == by_name.sid == conv.sid
    assert by_name.unique_name == "fetch-by-unique-name"


def test_a_unique_name_shaped_like_a_sid_still_addresses_its_conversation(conversations: Any, client: Any) -> None:
    other = conversations.create(friendly_name="other")
    name = "CH" + "5" * 32  # looks like a SID, names the conversation
    conv = conversations.create(unique_name=name)
    by_name = client.conversations.v1.conversations(name)
    assert by_name.fetch().sid == conv.sid
    assert by_name.update(friendly_name="renamed").friendly_name == "renamed"
    assert by_name.participants.create(identity="sid-shaped").conversation_sid == conv.sid
    assert by_name.messages.create(author="sid-shaped", body="hi").conversation_sid == conv.sid
    # a SID still wins over a unique name equal to it
    clash = conversations.create(unique_name=other.sid)
    assert client.conversations.v1.conversations(other.sid).fetch().sid == other.sid
    assert clash.sid != other.sid


def test_unique_name_with_reserved_characters_is_percent_decoded(server: Any, client: Any, conversations: Any) -> None:
    name = "team+ops@example.com:room 7"
    conv = conversations.create(unique_name=name)
    # the SDK puts the name into the path as it is (requests only escapes the space)
    assert client.conversations.v1.conversations(name).fetch().sid == conv.sid
    # a client that percent-encodes every reserved character reaches the same conversation
    response = server.http("GET", f"/v1/Conversations/{quote(name, safe='')}")
    assert response.status_code == 200
    assert response.json()["sid"] == conv.sid
    assert response.json()["unique_name"] == name


def test_duplicate_unique_name_is_a_conflict(server: Any, conversations: Any) -> None:
    conversations.create(unique_name="only-once")
    with nothing_written(server), twilio_error(409, 50353):
        conversations.create(unique_name="only-once")


def test_fetch_unknown_sid_is_404(client: Any) -> None:
    with twilio_error(404, 20404):
        client.conversations.v1.conversations("CH" + "0" * 32).fetch()
    with twilio_error(404, 20404):
        client.conversations.v1.conversations("no-such-unique-name").fetch()


def test_dates_given_on_create_are_kept(conversations: Any) -> None:
    created = datetime(2011, 5, 6, 7, 8, 9, tzinfo=UTC)
    updated = datetime(2012, 1, 2, 3, 4, 5, tzinfo=UTC)
    conv = conversations.create(date_created=created, date_updated=updated)
    assert conv.date_created == created
    assert conv.date_updated == updated


def test_dates_are_always_written_with_four_digit_years(server: Any) -> None:
    # (raw request: the SDK itself formats datetime(999, …) as '999-…')
    response = server.http("POST", "/v1/Conversations", data={"DateCreated": "0999-01-02T03:04:05Z"})
    assert response.status_code == 201
    assert response.json()["date_created"] == "0999-01-02T03:04:05Z"
    assert response.json()["date_updated"] == "0999-01-02T03:04:05Z"


def test_email_bindings(conversations: Any) -> None:
    conv = conversations.create(bindings_email_address="desk@example.com", bindings_email_name="Help Desk")
    assert conv.bindings == {"email": {"projected_address": "desk@example.com", "name": "Help Desk"}}


# -- update / delete -----------------------------------------------------------------------------------


def test_update_changes_only_the_given_fields(client: Any, conversations: Any) -> None:
    conv = conversations.create(friendly_name="before", attributes='{"a": 1}', unique_name="update-me")
    updated = client.conversations.v1.conversations(conv.sid).update(friendly_name="after")
    assert updated.friendly_name == "after"
    assert updated.attributes == '{"a": 1}'
    assert updated.unique_name == "update-me"
    assert updated.date_created == conv.date_created

    renamed = client.conversations.v1.conversations("update-me").update(unique_name="updated", attributes='{"b": 2}')
    assert renamed.sid == conv.sid
    assert renamed.unique_name == "updated"
    assert json.loads(renamed.attributes) == {"b": 2}
    assert client.conversations.v1.conversations(conv.sid).fetch().friendly_name == "after"
    with twilio_error(404, 20404):
        client.conversations.v1.conversations("update-me").fetch()


def test_update_to_a_taken_unique_name_is_a_conflict(server: Any, client: Any, conversations: Any) -> None:
    conversations.create(unique_name="taken-name")
    other = conversations.create(unique_name="free-name")
    with nothing_written(server), twilio_error(409, 50353):
        client.conversations.v1.conversations(other.sid).update(unique_name="taken-name")
    assert client.conversations.v1.conversations(other.sid).fetch().unique_name == "free-name"


def test_delete_returns_true_and_the_conversation_is_gone(server: Any, client: Any, conversation: Any) -> None:
    client.conversations.v1.conversations(conversation.sid).participants.create(identity="alice")
    client.conversations.v1.conversations(conversation.sid).messages.create(body="hi")
    assert client.conversations.v1.conversations(conversation.sid).delete() is True
    with twilio_error(404, 20404):
        client.conversations.v1.conversations(conversation.sid).fetch()
    with twilio_error(404, 20404):
        client.conversations.v1.conversations(conversation.sid).delete()
    # its participants and messages went with it
    response = server.http("GET", f"/v1/Conversations/{conversation.sid}/Messages")
    assert_error_body(response, 404, 20404)


def test_webhook_enabled_header_is_accepted(client: Any, conversations: Any) -> None:
    conv = conversations.create(friendly_name="hooks", x_twilio_webhook_enabled="true")
    ctx = client.conversations.v1.conversations(conv.sid)
    assert ctx.update(friendly_name="hooks 2", x_twilio_webhook_enabled="false").friendly_name == "hooks 2"
    assert ctx.messages.create(body="m", x_twilio_webhook_enabled="true").index == 0
    assert ctx.delete(x_twilio_webhook_enabled="true") is True


def test_delete_by_unique_name(client: Any, conversations: Any) -> None:
    conv = conversations.create(unique_name="delete-by-name")
    assert client.conversations.v1.conversations("delete-by-name").delete() is True
    with twilio_error(404, 20404):
        client.conversations.v1.conversations(conv.sid).fetch()


# -- list ----------------------------------------------------------------------------------------------


def test_list_includes_new_conversations_and_pages(client: Any, conversations: Any) -> None:
    made = [conversations.create(friendly_name=f"listed {i}").sid for i in range(3)]
    listed = [c.sid for c in conversations.stream(page_size=100)]
    assert len(listed) == len(set(listed))
    assert set(made) <= set(listed)
    # ascending creation order by default
    positions = [listed.index(sid) for sid in made]
    assert positions == sorted(positions)


def test_list_filters_by_state(client: Any, conversations: Any) -> None:
    active = conversations.create(friendly_name="stays active")
    inactive = conversations.create(friendly_name="goes inactive", state="inactive")
    closed = conversations.create(friendly_name="gets closed")
    client.conversations.v1.conversations(closed.sid).update(state="closed")

    by_state = {
        state: {c.sid: c.state for c in conversations.list(state=state)} for state in ("active", "inactive", "closed")
    }
    assert active.sid in by_state["active"] and inactive.sid in by_state["inactive"]
    assert closed.sid in by_state["closed"]
    for state, found in by_state.items():
        assert set(found.values()) == {state}


def test_list_filters_by_creation_date_newest_first(client: Any, conversations: Any) -> None:
    day = datetime(1999, 3, 2, tzinfo=UTC)
    before = conversations.create(date_created=day - timedelta(hours=1))
    morning = conversations.create(date_created=day)
    late = conversations.create(date_created=day + timedelta(hours=23, minutes=59, seconds=59))
    after = conversations.create(date_created=day + timedelta(days=1))

    def listed(**kw: str) -> list[str]:
        return [c.sid for c in conversations.list(**kw)]

    # a bare end date covers that whole day; results are newest first
    assert listed(start_date="1999-03-02", end_date="1999-03-02") == [late.sid, morning.sid]
    assert listed(start_date="1999-03-02T00:00:00Z", end_date="1999-03-02T23:59:58Z") == [morning.sid]
    assert listed(start_date="1999-03-01T00:00:00Z", end_date="1999-03-03T00:00:00Z") == [
        after.sid,
        late.sid,
        morning.sid,
        before.sid,
    ]
    # combined with a state filter
    client.conversations.v1.conversations(morning.sid).update(state="inactive")
    assert listed(start_date="1999-03-02", end_date="1999-03-02", state="inactive") == [morning.sid]
    # the filters survive paging (they are echoed in next_page_url)
    assert [c.sid for c in conversations.stream(start_date="1999-03-01", end_date="1999-03-03", page_size=1)] == [
        after.sid,
        late.sid,
        morning.sid,
        before.sid,
    ]


def test_list_with_a_bad_filter_is_400(server: Any) -> None:
    for query in (
        "State=bogus",
        "StartDate=yesterday",
        "EndDate=2020-13-40",
        "PageSize=0",
        "PageSize=abc",
        "Page=-1",
        "PageToken=garbage",
    ):
        assert_error_body(server.http("GET", f"/v1/Conversations?{query}"), 400, 20001)


# -- states and timers ---------------------------------------------------------------------------------


def test_closing_is_final(server: Any, client: Any, conversation: Any) -> None:
    ctx = client.conversations.v1.conversations(conversation.sid)
    closed = ctx.update(state="closed")
    assert closed.state == "closed"
    assert closed.timers == {}
    with nothing_written(server):
        with twilio_error(400, 50377):
            ctx.messages.create(body="too late")
        with twilio_error(400, 50377):
            ctx.participants.create(identity="latecomer")
        with twilio_error(400, 50377):
            ctx.update(state="active")
    # a closed conversation can still be read and deleted
    assert ctx.fetch().state == "closed"
    assert ctx.delete() is True


def test_a_new_message_reactivates_an_inactive_conversation(client: Any, conversations: Any) -> None:
    conv = conversations.create(state="inactive")
    assert conv.state == "inactive"
    client.conversations.v1.conversations(conv.sid).messages.create(body="wake up")
    assert client.conversations.v1.conversations(conv.sid).fetch().state == "active"


def test_valid_timers_are_shown_as_dates(client: Any, conversations: Any, disposable: list[str]) -> None:
    conv = conversations.create(timers_inactive="PT5M", timers_closed="PT20M")
    disposable.append(conv.sid)
    created = conv.date_created
    assert set(conv.timers) == {"date_inactive", "date_closed"}
    assert parse(conv.timers["date_inactive"]) == created + timedelta(minutes=5)
    assert parse(conv.timers["date_closed"]) == created + timedelta(minutes=20)
    assert client.conversations.v1.conversations(conv.sid).fetch().timers == conv.timers

    # an inactive conversation is only waiting to be closed
    quiet = conversations.create(state="inactive", timers_closed="P1D")
    disposable.append(quiet.sid)
    assert set(quiet.timers) == {"date_closed"}
    assert parse(quiet.timers["date_closed"]) == quiet.date_created + timedelta(days=1)

    # the minimums are accepted
    edge = conversations.create(timers_inactive="PT1M", timers_closed="PT10M")
    disposable.append(edge.sid)
    assert set(edge.timers) == {"date_inactive", "date_closed"}


def test_timers_can_be_set_on_update(client: Any, conversation: Any, disposable: list[str]) -> None:
    disposable.append(conversation.sid)
    updated = client.conversations.v1.conversations(conversation.sid).update(timers_closed="PT30M")
    assert set(updated.timers) == {"date_closed"}
    assert parse(updated.timers["date_closed"]) == updated.date_updated + timedelta(minutes=30)


def test_timer_rules(server: Any, conversations: Any, conversation: Any, client: Any) -> None:
    cases = [
        (dict(timers_inactive="PT59S"), 50375),
        (dict(timers_inactive="PT30S"), 50375),
        (dict(timers_closed="PT9M59S"), 50376),
        (dict(timers_closed="PT5M"), 50376),
        (dict(timers_inactive="soon"), 50379),
        (dict(timers_inactive="5 minutes"), 50379),
        (dict(timers_closed="P1Y"), 50380),  # years have no fixed length: refused
        (dict(timers_closed="PT"), 50380),
    ]
    ctx = client.conversations.v1.conversations(conversation.sid)
    with nothing_written(server):
        for params, code in cases:
            with twilio_error(400, code):
                conversations.create(**params)
            with twilio_error(400, code):
                ctx.update(**params)
        with twilio_error(400, 50384):
            conversations.create(state="closed")
    assert ctx.fetch().timers == {}


# -- the same resource under /v1/Services/{IS} -----------------------------------------------------------


def test_service_scoped_crud(server: Any, client: Any, service: Any, service_sid: str) -> None:
    conv = service.conversations.create(friendly_name="svc", unique_name="svc-scoped")
    prefix = f"{server.url}/v1/Services/{service_sid}/Conversations/{conv.sid}"
    assert conv.chat_service_sid == service_sid
    assert conv.url == prefix
    assert conv.links["participants"] == f"{prefix}/Participants"
    assert conv.links["messages"] == f"{prefix}/Messages"

    assert service.conversations(conv.sid).fetch().friendly_name == "svc"
    assert service.conversations("svc-scoped").fetch().sid == conv.sid
    # the default service is what /v1/Conversations addresses
    assert client.conversations.v1.conversations(conv.sid).fetch().url == f"{server.url}/v1/Conversations/{conv.sid}"

    updated = service.conversations(conv.sid).update(friendly_name="svc 2", attributes='{"x": true}')
    assert (updated.friendly_name, updated.attributes) == ("svc 2", '{"x": true}')
    assert conv.sid in [c.sid for c in service.conversations.list(state="active")]

    assert service.conversations(conv.sid).delete() is True
    with twilio_error(404, 20404):
        service.conversations(conv.sid).fetch()


def test_unknown_service_is_404(server: Any, client: Any) -> None:
    unknown = client.conversations.v1.services("IS" + "0" * 32)
    with nothing_written(server):
        with twilio_error(404, 20404):
            unknown.conversations.create(friendly_name="nowhere")
    with twilio_error(404, 20404):
        unknown.conversations("CH" + "0" * 32).fetch()
    assert_error_body(server.http("GET", "/v1/Services/not-a-service/Conversations"), 404, 20404)
    assert_error_body(server.http("GET", f"/v1/Services/{'IS' + '0' * 32}/Conversations"), 404, 20404)
