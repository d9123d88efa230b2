"""Address configurations (`/v1/Configuration/Addresses`): per-address settings for conversation autocreation.

An address is unique within an account. `auto_creation` is stored as one JSON document holding every
setting ever given, so switching `type` back and forth keeps the other type's settings; what is shown
depends on the type (see the API module).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, RowMapping, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from hubbub import errors
from hubbub.actions.common import Scope, not_found
from hubbub.domain import clock
from hubbub.domain.addresses import parse_address
from hubbub.domain.sids import is_sid, new_sid
from hubbub.errors import Conflict, InvalidParameter
from hubbub.store.schema import address_configurations, services

TYPES = ("sms", "whatsapp", "messenger", "gbm", "email", "rcs", "apple", "chat")
AUTO_CREATION_TYPES = ("webhook", "studio", "default")
WEBHOOK_METHODS = ("GET", "POST")
# twilio-api-inventory.md §2.8: the events an autocreation webhook can subscribe to.
WEBHOOK_FILTERS = ("onMessageAdded", "onMessageUpdated", "onMessageRemoved", "onConversationUpdated",
                   "onConversationStateUpdated", "onConversationRemoved", "onParticipantAdded",
                   "onParticipantUpdated", "onParticipantRemoved", "onDeliveryUpdated")
MAX_ADDRESS = 256
MAX_STUDIO_RETRIES = 3

_SHORT_CODE = re.compile(r"^[0-9]{3,8}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Addresses are also path identifiers, so nothing that a URL path would split or decode.
_UNSAFE = re.compile(r"[\x00-\x20\x7f/?#%\\]")
_COUNTRY = re.compile(r"^[A-Za-z]{2}$")


@dataclass(frozen=True)
class AutoCreationFields:
    """The `AutoCreation.*` parameters; None means 'not given'."""

    enabled: bool | None = None
    type: str | None = None
    conversation_service_sid: str | None = None
    webhook_url: str | None = None
    webhook_method: str | None = None
    webhook_filters: list[str] | None = None
    studio_flow_sid: str | None = None
    studio_retry_count: int | None = None


@dataclass(frozen=True)
class AddressFields:
    type: str | None = None
    address: str | None = None
    friendly_name: str | None = None
    address_country: str | None = None
    auto_creation: AutoCreationFields = AutoCreationFields()


@dataclass(frozen=True)
class NewAddressConfiguration:
    """A checked create request: type and address are known and normalised."""

    type: str
    address: str
    friendly_name: str | None
    address_country: str | None
    auto_creation: AutoCreationFields


def normalise_type(value: str, name: str = "Type") -> str:
    lowered = value.lower()
    if lowered not in TYPES:
        raise InvalidParameter(f"Invalid {name}: '{value[:64]}' is not one of {', '.join(TYPES)}")
    return lowered


def check_address(address_type: str, address: str) -> str:
    """The address as stored: syntax checked for its type (E.164 or short code for SMS, `whatsapp:+E.164`)."""
    if not address:
        raise InvalidParameter("Invalid Address: must not be empty")
    if len(address) > MAX_ADDRESS:
        raise InvalidParameter(f"Invalid Address: longer than {MAX_ADDRESS} characters")
    if _UNSAFE.search(address):
        raise InvalidParameter("Invalid Address: spaces, control characters and / ? # % \\ are not allowed")
    if address_type == "sms" and _SHORT_CODE.match(address):
        return address
    if address_type in ("sms", "whatsapp"):
        try:
            parsed = parse_address(address, "Address")
        except InvalidParameter as exc:
            raise InvalidParameter(exc.message) from None
        if parsed.channel != address_type:
            expected = "a 'whatsapp:' + E.164 number" if address_type == "whatsapp" \
                else "an E.164 phone number or a short code"
            raise InvalidParameter(
                f"Invalid Address: '{address[:64]}' is not {expected} (Type {address_type})")
        return parsed.value
    if address_type == "email" and not _EMAIL.match(address):
        raise InvalidParameter(f"Invalid Address: '{address[:64]}' is not an email address")
    return address


def check_country(value: str | None) -> str | None:
    if value is None:
        return None
    if not _COUNTRY.match(value):
        raise InvalidParameter(f"Invalid AddressCountry: '{value[:64]}' is not an ISO 3166-1 alpha-2 code")
    return value.upper()


def check_auto_creation(fields: AutoCreationFields) -> AutoCreationFields:
    """Checks of the given `AutoCreation.*` values on their own (the combination is checked by `_merge`)."""
    if fields.webhook_filters is not None:
        unknown = [f for f in fields.webhook_filters if f not in WEBHOOK_FILTERS]
        if unknown:
            raise InvalidParameter(f"Invalid AutoCreation.WebhookFilters: '{unknown[0][:64]}' is not one of "
                                   f"{', '.join(WEBHOOK_FILTERS)}")
    return fields


def check_create_address_configuration(fields: AddressFields) -> NewAddressConfiguration:
    if fields.type is None:
        raise InvalidParameter("Missing required parameter Type in the post body")
    if fields.address is None:
        raise InvalidParameter("Missing required parameter Address in the post body")
    address_type = normalise_type(fields.type)
    auto = check_auto_creation(fields.auto_creation)
    _merge({}, auto)  # the combination must be complete on its own
    return NewAddressConfiguration(address_type, check_address(address_type, fields.address),
                                   fields.friendly_name, check_country(fields.address_country), auto)


def check_update_address_configuration(fields: AddressFields) -> AddressFields:
    return AddressFields(friendly_name=fields.friendly_name,
                         auto_creation=check_auto_creation(fields.auto_creation))


def _merge(current: dict[str, Any], given: AutoCreationFields) -> dict[str, Any]:
    """The stored `auto_creation` document after applying `given`, checked as a whole."""
    merged = dict(current)
    for name in ("enabled", "type", "conversation_service_sid", "webhook_url", "webhook_method",
                 "webhook_filters", "studio_flow_sid", "studio_retry_count"):
        value = getattr(given, name)
        if value is not None:
            merged[name] = value
    merged.setdefault("enabled", False)
    merged.setdefault("type", "default")
    if merged["type"] == "webhook":
        if not merged.get("webhook_url"):
            raise InvalidParameter("Missing required parameter AutoCreation.WebhookUrl for AutoCreation.Type "
                                   "webhook")
        merged.setdefault("webhook_method", "POST")
    if merged["type"] == "studio" and not merged.get("studio_flow_sid"):
        raise InvalidParameter("Missing required parameter AutoCreation.StudioFlowSid for AutoCreation.Type "
                               "studio")
    return merged


def _check_service(conn: Connection, scope: Scope, auto: dict[str, Any]) -> None:
    sid = auto.get("conversation_service_sid")
    if sid is not None and conn.execute(select(services.c.sid).where(
            services.c.sid == sid, services.c.account_sid == scope.account_sid)).first() is None:
        raise InvalidParameter(f"Invalid AutoCreation.ConversationServiceSid: service {sid} not found")


def _address_taken(address: str) -> Conflict:
    return Conflict(f"An address configuration for '{address}' already exists",
                    code=errors.ADDRESS_CONFIGURATION_EXISTS)


def get_address_configuration(conn: Connection, scope: Scope, key: str) -> RowMapping:
    """By `IG…` SID or by the address itself."""
    table = address_configurations
    clause = table.c.sid == key if is_sid(key, "IG") else table.c.address == key
    row = conn.execute(select(table).where(table.c.account_sid == scope.account_sid, clause)
                       ).mappings().first()
    if row is None:
        raise not_found(f"/Configuration/Addresses/{key}")
    return row


def do_create_address_configuration(conn: Connection, scope: Scope, fields: NewAddressConfiguration
                                    ) -> RowMapping:
    table = address_configurations
    auto = _merge({}, fields.auto_creation)
    _check_service(conn, scope, auto)
    if conn.execute(select(table.c.id).where(table.c.account_sid == scope.account_sid,
                                             table.c.address == fields.address)).first():
        raise _address_taken(fields.address)
    now = clock.now()
    sid = new_sid("IG")
    try:
        conn.execute(insert(table).values(
            sid=sid, account_sid=scope.account_sid, type=fields.type, address=fields.address,
            friendly_name=fields.friendly_name, address_country=fields.address_country,
            auto_creation=orjson.dumps(auto).decode(), date_created=now, date_updated=now))
    except IntegrityError:
        raise _address_taken(fields.address) from None
    return conn.execute(select(table).where(table.c.sid == sid)).mappings().one()


def do_update_address_configuration(conn: Connection, scope: Scope, key: str, fields: AddressFields
                                    ) -> RowMapping:
    table = address_configurations
    current = get_address_configuration(conn, scope, key)
    auto = _merge(orjson.loads(current["auto_creation"]), fields.auto_creation)
    _check_service(conn, scope, auto)
    changes: dict[str, Any] = {"auto_creation": orjson.dumps(auto).decode(), "date_updated": clock.now()}
    if fields.friendly_name is not None:
        changes["friendly_name"] = fields.friendly_name
    conn.execute(update(table).where(table.c.sid == current["sid"]).values(**changes))
    return conn.execute(select(table).where(table.c.sid == current["sid"])).mappings().one()


def do_delete_address_configuration(conn: Connection, scope: Scope, key: str) -> None:
    current = get_address_configuration(conn, scope, key)
    conn.execute(delete(address_configurations).where(address_configurations.c.sid == current["sid"]))
