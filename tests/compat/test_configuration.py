"""/v1/Configuration through the official SDK: the account's default service, messaging service and
default timers, and how new conversations pick the defaults up."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from .helpers import assert_error_body, twilio_error


@pytest.fixture
def configuration(client: Any) -> Iterator[Any]:
    """The configuration context; whatever a test changes is put back afterwards (the server is shared)."""
    ctx = client.conversations.v1.configuration()
    before = ctx.fetch()
    yield ctx
    ctx.update(
        default_chat_service_sid=before.default_chat_service_sid,
        default_inactive_timer=before.default_inactive_timer or "PT0S",
        default_closed_timer=before.default_closed_timer or "PT0S",
    )


def parse(ts: str) -> datetime:
    return datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def test_fetch(server: Any, configuration: Any) -> None:
    config = configuration.fetch()
    assert config.account_sid == server.account_sid
    assert re.match(r"^IS[0-9a-f]{32}$", config.default_chat_service_sid)
    assert config.default_messaging_service_sid is None
    assert config.default_inactive_timer is None and config.default_closed_timer is None
    assert config.url == f"{server.url}/v1/Configuration"
    assert config.links == {
        "service": f"{server.url}/v1/Services/{config.default_chat_service_sid}/Configuration",
        "webhooks": f"{server.url}/v1/Configuration/Webhooks",
    }


def test_default_timers_apply_to_new_conversations(client: Any, configuration: Any, disposable: list[str]) -> None:
    updated = configuration.update(default_inactive_timer="PT2M", default_closed_timer="PT20M")
    assert (updated.default_inactive_timer, updated.default_closed_timer) == ("PT2M", "PT20M")
    assert configuration.fetch().default_closed_timer == "PT20M"

    conv = client.conversations.v1.conversations.create(friendly_name="inherits timers")
    disposable.append(conv.sid)
    assert parse(conv.timers["date_inactive"]) == conv.date_created + timedelta(minutes=2)
    assert parse(conv.timers["date_closed"]) == conv.date_created + timedelta(minutes=20)
    # timers given on the conversation win over the defaults
    own = client.conversations.v1.conversations.create(timers_closed="PT1H")
    disposable.append(own.sid)
    assert set(own.timers) == {"date_closed"}
    assert parse(own.timers["date_closed"]) == own.date_created + timedelta(hours=1)

    # PT0S switches a default off
    off = configuration.update(default_inactive_timer="PT0S", default_closed_timer="PT0S")
    assert (off.default_inactive_timer, off.default_closed_timer) == (None, None)
    assert client.conversations.v1.conversations.create().timers == {}


def test_update_leaves_unspecified_fields_alone(configuration: Any) -> None:
    configuration.update(default_closed_timer="P1D")
    after = configuration.update(default_inactive_timer="PT10M")
    assert (after.default_inactive_timer, after.default_closed_timer) == ("PT10M", "P1D")


def test_default_messaging_service(configuration: Any) -> None:
    sid = "MG" + "12" * 16
    assert configuration.update(default_messaging_service_sid=sid).default_messaging_service_sid == sid


def test_default_chat_service_can_be_set_to_itself(configuration: Any) -> None:
    current = configuration.fetch().default_chat_service_sid
    assert configuration.update(default_chat_service_sid=current).default_chat_service_sid == current


@pytest.mark.parametrize(
    ("params", "code"),
    [
        (dict(default_inactive_timer="PT30S"), 50375),
        (dict(default_inactive_timer="PT59S"), 50375),
        (dict(default_closed_timer="PT9M"), 50376),
        (dict(default_inactive_timer="two minutes"), 50379),
        (dict(default_inactive_timer=""), 50379),
        (dict(default_closed_timer="P1M"), 50380),  # months have no fixed length: refused
        (dict(default_closed_timer="-PT10M"), 50380),
        (dict(default_chat_service_sid="IS123"), 20001),
        (dict(default_chat_service_sid="CH" + "0" * 32), 20001),
        (dict(default_chat_service_sid="IS" + "0" * 32), 20001),  # well-formed but not this account's
        (dict(default_messaging_service_sid="MG-not-a-sid"), 20001),
    ],
)
def test_bad_updates_are_rejected_and_change_nothing(
    server: Any, configuration: Any, params: dict[str, str], code: int
) -> None:
    before = server.http("GET", "/v1/Configuration").json()
    with twilio_error(400, code):
        configuration.update(**params)
    assert server.http("GET", "/v1/Configuration").json() == before


def test_another_accounts_service_cannot_be_the_default(client: Any, other_client: Any, configuration: Any) -> None:
    theirs = other_client.conversations.v1.configuration().fetch().default_chat_service_sid
    with twilio_error(400, 20001):
        configuration.update(default_chat_service_sid=theirs)
    assert configuration.fetch().default_chat_service_sid != theirs


def test_accounts_have_separate_configurations(configuration: Any, other_client: Any) -> None:
    mine = configuration.fetch()
    theirs = other_client.conversations.v1.configuration().fetch()
    assert theirs.account_sid != mine.account_sid
    assert theirs.default_chat_service_sid != mine.default_chat_service_sid
    configuration.update(default_closed_timer="PT15M")
    assert other_client.conversations.v1.configuration().fetch().default_closed_timer is None


def test_configuration_needs_credentials(server: Any) -> None:
    assert_error_body(server.http("GET", "/v1/Configuration", auth=(server.account_sid, "wrong")), 401, 20003)
