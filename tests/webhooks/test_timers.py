"""Conversation state timers, driven by the test clock (`/hubbub/v1/Testing/Clock`), not by sleeping."""

from __future__ import annotations

import itertools
import random
from pathlib import Path
from typing import Any

import pytest
from conftest import stop_server
from twilio.base.exceptions import TwilioRestException

from .conftest import Hooks, advance_clock, launch, new_database
from .receiver import wait_until

_numbers = itertools.count(random.randrange(1_000_000, 8_000_000))


def _number() -> str:
    return f"+1628{next(_numbers):07d}"


def _wait_state(hooks: Hooks, conv: Any, state: str) -> Any:
    found: list[Any] = []

    def check() -> bool:
        found[:] = [conv.fetch()]
        return bool(found[0].state == state)

    hooks.receiver.wait(check, what=f"conversation {conv.sid} {state}")
    return found[0]


def _transitions(hooks: Hooks, conv_sid: str) -> list[tuple[str, str, str]]:
    return [(r.form["StateFrom"], r.form["StateTo"], r.form["Reason"])
            for r in hooks.events("onConversationStateUpdated") if r.form["ConversationSid"] == conv_sid]


def test_timers_move_active_to_inactive_to_closed(hooks: Hooks) -> None:
    conv = hooks.conversation(friendly_name="timed", state="active", timers_inactive="PT1M", timers_closed="PT10M")
    assert set(conv.timers) == {"date_inactive", "date_closed"}
    advance_clock(hooks.server, 61)
    inactive = _wait_state(hooks, conv, "inactive")
    assert list(inactive.timers) == ["date_closed"]
    hooks.wait("onConversationStateUpdated")
    advance_clock(hooks.server, 600)
    closed = _wait_state(hooks, conv, "closed")
    assert closed.timers == {}
    hooks.wait("onConversationStateUpdated", 2)
    assert _transitions(hooks, conv.sid) == [("active", "inactive", "TIMER"), ("inactive", "closed", "TIMER")]
    event = hooks.events("onConversationStateUpdated")[0].form
    assert event["ChatServiceSid"] == hooks.service_sid and event["StateUpdated"].endswith("Z")
    assert event["Source"] == "API"
    # closed is final
    with pytest.raises(TwilioRestException) as info:
        conv.update(state="active")
    assert (info.value.status, info.value.code) == (400, 50377)
    with pytest.raises(TwilioRestException) as info:
        conv.messages.create(author="bob", body="too late")
    assert info.value.code == 50377


def test_both_timers_due_at_once_fire_in_order(hooks: Hooks) -> None:
    conv = hooks.conversation(friendly_name="long gone", state="active", timers_inactive="PT2M",
                              timers_closed="PT15M")
    advance_clock(hooks.server, 3600)
    _wait_state(hooks, conv, "closed")
    hooks.wait("onConversationStateUpdated", 2)
    assert _transitions(hooks, conv.sid) == [("active", "inactive", "TIMER"), ("inactive", "closed", "TIMER")]


def test_closed_timer_shorter_than_inactive_closes_directly(hooks: Hooks) -> None:
    conv = hooks.conversation(friendly_name="quick close", state="active", timers_inactive="PT1H",
                              timers_closed="PT10M")
    advance_clock(hooks.server, 601)
    _wait_state(hooks, conv, "closed")
    hooks.wait("onConversationStateUpdated")
    assert _transitions(hooks, conv.sid) == [("active", "closed", "TIMER")]


def test_new_participant_reactivates_and_rearms_the_timers(hooks: Hooks) -> None:
    conv = hooks.conversation(friendly_name="revived", state="active", timers_inactive="PT1M")
    advance_clock(hooks.server, 61)
    _wait_state(hooks, conv, "inactive")
    conv.participants.create(identity="returning", x_twilio_webhook_enabled="true")
    active = conv.fetch()
    assert active.state == "active" and "date_inactive" in active.timers
    advance_clock(hooks.server, 61)
    _wait_state(hooks, conv, "inactive")
    hooks.wait("onConversationStateUpdated", 3)
    assert _transitions(hooks, conv.sid) == [("active", "inactive", "TIMER"), ("inactive", "active", "EVENT"),
                                             ("active", "inactive", "TIMER")]


def test_closing_releases_the_number_pair(hooks: Hooks) -> None:
    address, proxy = _number(), _number()
    first = hooks.conversation(friendly_name="pair holder", state="active", timers_closed="PT10M")
    first.participants.create(messaging_binding_address=address, messaging_binding_proxy_address=proxy)
    second = hooks.conversation(friendly_name="pair wanted")
    with pytest.raises(TwilioRestException) as info:
        second.participants.create(messaging_binding_address=address, messaging_binding_proxy_address=proxy)
    assert (info.value.status, info.value.code) == (409, 50416)
    advance_clock(hooks.server, 601)
    _wait_state(hooks, first, "closed")
    participant = second.participants.create(messaging_binding_address=address, messaging_binding_proxy_address=proxy)
    assert participant.messaging_binding["address"] == address


def test_timer_fires_after_a_restart(tmp_path: Path, wh_server: Any) -> None:
    db = new_database(wh_server.backend, tmp_path)
    server = launch(db, tmp_path / "server.log")
    try:
        conv = server.client().conversations.v1.conversations.create(
            friendly_name="survivor", state="active", timers_inactive="PT1M")
        stop_server(server.process)
        server = launch(db, tmp_path / "server.log")  # the due time is in the database, not in memory
        advance_clock(server, 61)
        client = server.client()
        wait_until(lambda: client.conversations.v1.conversations(conv.sid).fetch().state == "inactive",
                   what="inactive after restart")
    finally:
        stop_server(server.process)
        server.engine.dispose()
        db.drop()
    assert "Traceback" not in (tmp_path / "server.log").read_text()


def test_test_clock(wh_server: Any) -> None:
    before = wh_server.http("GET", "/hubbub/v1/Testing/Clock").json()
    after = wh_server.http("POST", "/hubbub/v1/Testing/Clock", data={"Advance": "30"}).json()
    assert after["offset"] == before["offset"] + 30 and after["epoch"] >= before["epoch"] + 30
    for bad in ("-5", "soon", ""):
        response = wh_server.http("POST", "/hubbub/v1/Testing/Clock", data={"Advance": bad})
        assert response.status_code == 400 and response.json()["code"] == 20001


def test_test_clock_is_absent_unless_enabled(server: Any) -> None:
    """The default test server runs without HUBBUB_TESTING: no clock to move."""
    for method in ("GET", "POST"):
        response = server.http(method, "/hubbub/v1/Testing/Clock", data={"Advance": "60"})
        assert response.status_code == 404 and response.json()["code"] == 20404
