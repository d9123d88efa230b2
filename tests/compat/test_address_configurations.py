"""Address configurations through the official SDK: create (SMS, WhatsApp and the other address types), fetch
and update and delete by `IG…` SID or by the address itself, list with the `Type` filter, and bad input."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from .helpers import assert_error_body, new_number, twilio_error
from .spec import operations, schema_errors

IG_RE = re.compile(r"^IG[0-9a-f]{32}$")
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
FLOW = "FW" + "a" * 32


def op_schema(operation_id: str) -> dict[str, Any]:
    (op,) = (o for o in operations() if o.operation_id == operation_id)
    schema = op.response_schema()
    assert schema is not None
    return schema


@pytest.fixture
def addresses(client: Any) -> Any:
    return client.conversations.v1.address_configurations


@contextmanager
def nothing_written(server: Any) -> Iterator[None]:
    before = server.count("address_configurations")
    yield
    assert server.count("address_configurations") == before


def test_create_sms_with_webhook_autocreation(server: Any, addresses: Any, service_sid: str) -> None:
    number = new_number()
    made = addresses.create(
        type="sms",
        address=number,
        friendly_name="My Test Configuration",
        address_country="ca",
        auto_creation_enabled=True,
        auto_creation_type="webhook",
        auto_creation_conversation_service_sid=service_sid,
        auto_creation_webhook_url="https://example.com",
        auto_creation_webhook_method="post",
        auto_creation_webhook_filters=["onParticipantAdded", "onMessageAdded"],
    )
    assert IG_RE.match(made.sid)
    assert (made.account_sid, made.type, made.address) == (server.account_sid, "sms", number)
    assert (made.friendly_name, made.address_country) == ("My Test Configuration", "CA")
    assert made.auto_creation == {
        "enabled": True,
        "type": "webhook",
        "conversation_service_sid": service_sid,
        "webhook_url": "https://example.com",
        "webhook_method": "POST",
        "webhook_filters": ["onParticipantAdded", "onMessageAdded"],
    }
    assert made.url == f"{server.url}/v1/Configuration/Addresses/{made.sid}"
    assert made.date_created is not None and made.date_created == made.date_updated
    body = server.http("GET", f"/v1/Configuration/Addresses/{made.sid}").json()
    assert schema_errors(op_schema("FetchConfigurationAddress"), body) == []


def test_studio_and_default_autocreation(addresses: Any) -> None:
    studio = addresses.create(
        type="sms",
        address=new_number(),
        auto_creation_enabled=False,
        auto_creation_type="studio",
        auto_creation_studio_flow_sid=FLOW,
        auto_creation_studio_retry_count=3,
    )
    assert studio.auto_creation == {
        "enabled": False,
        "type": "studio",
        "studio_flow_sid": FLOW,
        "studio_retry_count": 3,
    }
    email = addresses.create(
        type="email",
        address=f"support{new_number()[1:]}@example.com",
        friendly_name="My Email Configuration",
        auto_creation_enabled=True,
        auto_creation_type="default",
    )
    assert email.auto_creation == {"enabled": True, "type": "default"}
    assert email.address_country is None
    bare = addresses.create(type="sms", address=new_number())
    assert bare.auto_creation == {"enabled": False, "type": "default"}


@pytest.mark.parametrize(
    ("address_type", "address"),
    [
        ("messenger", "messenger:1234567890"),
        ("gbm", "gbm:agent-42"),
        ("rcs", "rcs:brand_agent"),
        ("apple", "urn:mbid:AQAAYyUbut6E4B3T9FLv5EbG"),
        ("chat", "chat-widget-1"),
    ],
)
def test_other_address_types(addresses: Any, address_type: str, address: str) -> None:
    unique = f"{address}{new_number()[2:]}"
    made = addresses.create(type=address_type, address=unique)
    assert (made.type, made.address) == (address_type, unique)
    assert addresses(unique).fetch().sid == made.sid


def test_type_is_case_insensitive_and_whatsapp_address(server: Any, addresses: Any) -> None:
    address = f"whatsapp:{new_number()}"
    made = addresses.create(type="whAtsAPP", address=address)
    assert (made.type, made.address) == ("whatsapp", address)
    # by address: as the SDK sends it ('+' and ':' as they are) and fully percent-encoded
    assert addresses(address).fetch().sid == made.sid
    response = server.http("GET", f"/v1/Configuration/Addresses/{quote(address, safe='')}")
    assert response.status_code == 200 and response.json()["sid"] == made.sid


def test_short_code_sms_address(addresses: Any) -> None:
    code = str(10000 + int(new_number()[-5:]) % 89999)
    made = addresses.create(type="sms", address=code, address_country="US")
    assert (made.address, made.address_country) == (code, "US")


def test_fetch_update_delete_by_sid_and_by_address(server: Any, addresses: Any, service_sid: str) -> None:
    number = new_number()
    made = addresses.create(
        type="sms",
        address=number,
        friendly_name="before",
        auto_creation_enabled=True,
        auto_creation_type="webhook",
        auto_creation_webhook_url="https://example.com/a",
        auto_creation_conversation_service_sid=service_sid,
    )
    assert addresses(number).fetch().sid == made.sid
    assert addresses(made.sid).fetch().address == number
    updated = addresses(number).update(
        friendly_name="after",
        auto_creation_enabled=False,
        auto_creation_type="studio",
        auto_creation_studio_flow_sid=FLOW,
        auto_creation_studio_retry_count=2,
    )
    assert updated.friendly_name == "after"
    assert updated.auto_creation == {
        "enabled": False,
        "type": "studio",
        "conversation_service_sid": service_sid,
        "studio_flow_sid": FLOW,
        "studio_retry_count": 2,
    }
    # switching back keeps the webhook settings given earlier
    back = addresses(made.sid).update(auto_creation_type="webhook", auto_creation_webhook_method="GET")
    assert back.auto_creation == {
        "enabled": False,
        "type": "webhook",
        "conversation_service_sid": service_sid,
        "webhook_url": "https://example.com/a",
        "webhook_method": "GET",
        "webhook_filters": [],
    }
    assert (back.type, back.address, back.date_created) == ("sms", number, made.date_created)
    body = server.http(
        "POST", f"/v1/Configuration/Addresses/{made.sid}", headers=FORM, data={"FriendlyName": "raw"}
    ).json()
    assert schema_errors(op_schema("UpdateConfigurationAddress"), body) == []
    assert addresses(number).delete() is True
    with twilio_error(404, 20404):
        addresses(made.sid).fetch()
    with twilio_error(404, 20404):
        addresses(number).delete()


def test_list_pages_and_type_filter(server: Any, client: Any, addresses: Any) -> None:
    made = [addresses.create(type="sms", address=new_number()).sid for _ in range(3)]
    wa = addresses.create(type="whatsapp", address=f"whatsapp:{new_number()}").sid
    listed = [a.sid for a in addresses.stream(page_size=2)]
    assert listed[-4:] == [*made, wa]
    whatsapp = [a.sid for a in addresses.list(type="whatsapp")]
    assert wa in whatsapp and not set(made) & set(whatsapp)
    assert all(a.type == "whatsapp" for a in addresses.list(type="WhatsApp"))
    page = server.http(
        "GET", "/v1/Configuration/Addresses", params={"Type": "sms", "PageSize": "1000"}
    ).json()
    assert page["meta"]["key"] == "address_configurations" and page["meta"]["page_size"] == 50
    for key in ("url", "first_page_url"):
        query = parse_qs(urlsplit(page["meta"][key]).query)
        assert query["Type"] == ["sms"] and query["PageSize"] == ["50"]
    assert all(a["type"] == "sms" for a in page["address_configurations"])
    assert schema_errors(op_schema("ListConfigurationAddress"), page) == []


def test_accounts_are_isolated(server: Any, addresses: Any, other_client: Any) -> None:
    number = new_number()
    made = addresses.create(type="sms", address=number)
    theirs = other_client.conversations.v1.address_configurations
    for key in (made.sid, number):
        with twilio_error(404, 20404):
            theirs(key).fetch()
        with nothing_written(server), twilio_error(404, 20404):
            theirs(key).update(friendly_name="hijack")
        with nothing_written(server), twilio_error(404, 20404):
            theirs(key).delete()
    assert made.sid not in {a.sid for a in theirs.list()}
    # the same address may be configured by another account
    assert theirs.create(type="sms", address=number).address == number


def test_duplicate_address_is_409(server: Any, addresses: Any) -> None:
    number = new_number()
    addresses.create(type="sms", address=number)
    with nothing_written(server), twilio_error(409, 50460):
        addresses.create(type="sms", address=number, friendly_name="again")


@pytest.mark.parametrize(
    "data",
    [
        {"Address": "+15558675310"},  # no Type
        {"Type": "sms"},  # no Address
        {"Type": "fax", "Address": "+15558675310"},
        {"Type": "sms", "Address": ""},
        {"Type": "sms", "Address": "hello"},
        {"Type": "sms", "Address": "+1 555 867 5310"},
        {"Type": "sms", "Address": "whatsapp:+15558675310"},
        {"Type": "whatsapp", "Address": "+15558675310"},
        {"Type": "email", "Address": "not-an-email"},
        {"Type": "chat", "Address": "a/b"},
        {"Type": "chat", "Address": "x" * 257},
        {"Type": "sms", "Address": "NEW", "FriendlyName": "x" * 257},
        {"Type": "sms", "Address": "NEW", "AddressCountry": "USA"},
        {"Type": "sms", "Address": "NEW", "AutoCreation.Enabled": "maybe"},
        {"Type": "sms", "Address": "NEW", "AutoCreation.Type": "flex"},
        {"Type": "sms", "Address": "NEW", "AutoCreation.Type": "webhook"},  # no WebhookUrl
        {
            "Type": "sms",
            "Address": "NEW",
            "AutoCreation.Type": "webhook",
            "AutoCreation.WebhookUrl": "example.com",
        },
        {
            "Type": "sms",
            "Address": "NEW",
            "AutoCreation.Type": "webhook",
            "AutoCreation.WebhookUrl": "ftp://x.org",
        },
        {"Type": "sms", "Address": "NEW", "AutoCreation.WebhookUrl": "https://x.org/" + "a" * 1100},
        {"Type": "sms", "Address": "NEW", "AutoCreation.WebhookMethod": "put"},
        {"Type": "sms", "Address": "NEW", "AutoCreation.WebhookFilters": ["onMessageAdded", "onUserAdded"]},
        {"Type": "sms", "Address": "NEW", "AutoCreation.Type": "studio"},  # no StudioFlowSid
        {"Type": "sms", "Address": "NEW", "AutoCreation.StudioFlowSid": "FW123"},
        {"Type": "sms", "Address": "NEW", "AutoCreation.StudioRetryCount": "4"},
        {"Type": "sms", "Address": "NEW", "AutoCreation.StudioRetryCount": "-1"},
        {"Type": "sms", "Address": "NEW", "AutoCreation.StudioRetryCount": "two"},
        {"Type": "sms", "Address": "NEW", "AutoCreation.ConversationServiceSid": "IS123"},
        {"Type": "sms", "Address": "NEW", "AutoCreation.ConversationServiceSid": "IS" + "0" * 32},
    ],
)
def test_bad_create_writes_nothing(server: Any, data: dict[str, Any]) -> None:
    data = {k: new_number() if v == "NEW" else v for k, v in data.items()}
    with nothing_written(server):
        response = server.http("POST", "/v1/Configuration/Addresses", headers=FORM, data=data)
    assert_error_body(response, 400, 20001)


def test_other_accounts_service_is_refused(server: Any, other_client: Any, service_sid: str) -> None:
    with nothing_written(server), twilio_error(400, 20001):
        other_client.conversations.v1.address_configurations.create(
            type="sms", address=new_number(), auto_creation_conversation_service_sid=service_sid
        )


@pytest.mark.parametrize(
    "data",
    [
        {"FriendlyName": "x" * 257},
        {"AutoCreation.Type": "studio"},  # the configuration has no StudioFlowSid
        {"AutoCreation.WebhookUrl": "/relative"},
        {"AutoCreation.WebhookMethod": "delete"},
        {"AutoCreation.WebhookFilters": "onSomething"},
        {"AutoCreation.StudioRetryCount": "9"},
        {"AutoCreation.ConversationServiceSid": "IS" + "0" * 32},
    ],
)
def test_bad_update_changes_nothing(server: Any, addresses: Any, data: dict[str, str]) -> None:
    made = addresses.create(
        type="sms",
        address=new_number(),
        friendly_name="keep",
        auto_creation_enabled=True,
        auto_creation_type="webhook",
        auto_creation_webhook_url="https://example.com",
    )
    before = server.http("GET", f"/v1/Configuration/Addresses/{made.sid}").json()
    response = server.http("POST", f"/v1/Configuration/Addresses/{made.sid}", headers=FORM, data=data)
    assert_error_body(response, 400, 20001)
    assert server.http("GET", f"/v1/Configuration/Addresses/{made.sid}").json() == before


def test_unknown_keys_are_404(server: Any, addresses: Any) -> None:
    for key in ("IG" + "0" * 32, "+15550000000", "nobody@example.com"):
        with twilio_error(404, 20404):
            addresses(key).fetch()
        with nothing_written(server), twilio_error(404, 20404):
            addresses(key).update(friendly_name="x")
    assert_error_body(server.http("PUT", "/v1/Configuration/Addresses"), 405, 20004)
    assert_error_body(server.http("GET", "/v1/Configuration/Addresses", params={"Type": "fax"}), 400, 20001)
