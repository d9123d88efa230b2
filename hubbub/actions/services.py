"""Conversation Services: create and delete (with everything in them), the service configuration (default
roles, reachability), its push-notification settings, and the push bindings registered in it."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, RowMapping, delete, select, update

from hubbub import errors
from hubbub.actions.accounts import do_create_service as create_service_with_defaults
from hubbub.actions.common import Scope, not_found, service_sid
from hubbub.domain.sids import is_sid
from hubbub.errors import Conflict, InvalidParameter
from hubbub.store.schema import (
    address_configurations,
    bindings,
    configurations,
    conversation_webhooks,
    conversations,
    messages,
    participants,
    receipts,
    roles,
    service_configurations,
    services,
    users,
)

# Everything that belongs to a service, children before parents. Each table has a `chat_service_sid`
# column, so a service is emptied with one DELETE per table whether or not the database enforces the
# ON DELETE CASCADE foreign keys (SQLite only does with PRAGMA foreign_keys=ON).
SERVICE_CONTENTS = (receipts, messages, conversation_webhooks, participants, conversations, users, bindings,
                    service_configurations, roles)


# -- services --------------------------------------------------------------------------------------

def get_service(conn: Connection, account_sid: str, sid: str) -> RowMapping:
    row = None
    if is_sid(sid, "IS"):
        row = conn.execute(select(services).where(
            services.c.sid == sid, services.c.account_sid == account_sid)).mappings().first()
    if row is None:
        raise not_found(f"/Services/{sid[:64]}")
    return row


def do_create_service(conn: Connection, scope: Scope, friendly_name: str | None) -> RowMapping:
    """A new service with the four default roles and its configuration row."""
    sid = create_service_with_defaults(conn, scope.account_sid, friendly_name)
    return get_service(conn, scope.account_sid, sid)


def do_delete_service(conn: Connection, scope: Scope, sid: str) -> None:
    service = get_service(conn, scope.account_sid, sid)["sid"]
    # FOR UPDATE (PostgreSQL): a concurrent change of the default service waits for this delete.
    default = conn.execute(select(configurations.c.default_chat_service_sid).where(
        configurations.c.account_sid == scope.account_sid).with_for_update()).scalar_one_or_none()
    if default == service:
        raise Conflict(f"Service {service} is the account's default Conversation Service and cannot be "
                       "deleted; make another service the default in /v1/Configuration first",
                       code=errors.SERVICE_IN_USE)
    for address, auto_creation in conn.execute(
            select(address_configurations.c.address, address_configurations.c.auto_creation).where(
                address_configurations.c.account_sid == scope.account_sid,
                address_configurations.c.auto_creation.contains(service))):
        if orjson.loads(auto_creation).get("conversation_service_sid") == service:
            raise Conflict(f"Service {service} cannot be deleted: the address configuration of {address} "
                           "creates its conversations there", code=errors.SERVICE_IN_USE)
    for table in SERVICE_CONTENTS:
        conn.execute(delete(table).where(table.c.chat_service_sid == service))
    conn.execute(delete(services).where(services.c.sid == service))


# -- service configuration -------------------------------------------------------------------------

@dataclass(frozen=True)
class ServiceConfigurationFields:
    """The writable fields of a service configuration; None means 'not given'."""

    default_conversation_creator_role_sid: str | None = None
    default_conversation_role_sid: str | None = None
    default_chat_service_role_sid: str | None = None
    reachability_enabled: bool | None = None


# field → (form parameter, the role type it must be)
_ROLE_FIELDS = {
    "default_conversation_creator_role_sid": ("DefaultConversationCreatorRoleSid", "conversation"),
    "default_conversation_role_sid": ("DefaultConversationRoleSid", "conversation"),
    "default_chat_service_role_sid": ("DefaultChatServiceRoleSid", "service"),
}


def get_service_configuration(conn: Connection, scope: Scope) -> RowMapping:
    service = service_sid(conn, scope)
    row = conn.execute(select(service_configurations).where(
        service_configurations.c.chat_service_sid == service)).mappings().first()
    if row is None:  # every service is created with one; never expected
        raise not_found(f"/Services/{service}/Configuration")
    return row


def do_update_service_configuration(conn: Connection, scope: Scope,
                                    fields: ServiceConfigurationFields) -> RowMapping:
    service = service_sid(conn, scope)
    changes: dict[str, Any] = {}
    for name, (parameter, role_type) in _ROLE_FIELDS.items():
        role_sid = getattr(fields, name)
        if role_sid is None:
            continue
        found = conn.execute(select(roles.c.type).where(roles.c.sid == role_sid,
                                                        roles.c.chat_service_sid == service)).first()
        if found is None or found.type != role_type:
            raise InvalidParameter(f"Invalid {parameter}: {role_sid} is not a {role_type} role of service "
                                   f"{service}", code=errors.ROLE_NOT_FOUND)
        changes[name] = role_sid
    if fields.reachability_enabled is not None:
        changes["reachability_enabled"] = fields.reachability_enabled
    if changes:
        conn.execute(update(service_configurations)
                     .where(service_configurations.c.chat_service_sid == service).values(**changes))
    return get_service_configuration(conn, scope)


# -- push notification settings ----------------------------------------------------------------------

# The settings of a service that never configured any: nothing is pushed. A template left unset (None)
# means the push sender uses Twilio's default text for that notification.
NOTIFICATION_DEFAULTS: dict[str, Any] = {
    "log_enabled": False,
    "new_message": {"enabled": False, "template": None, "sound": None, "badge_count_enabled": False,
                    "with_media": {"enabled": False, "template": None}},
    "added_to_conversation": {"enabled": False, "template": None, "sound": None},
    "removed_from_conversation": {"enabled": False, "template": None, "sound": None},
}

NotificationChanges = dict[tuple[str, ...], Any]  # path in the settings document → new value


def notification_settings(stored: str) -> dict[str, Any]:
    """The full settings document: the stored values over NOTIFICATION_DEFAULTS."""
    settings = copy.deepcopy(NOTIFICATION_DEFAULTS)
    _merge(settings, orjson.loads(stored or "{}"))
    return settings


def _merge(target: dict[str, Any], source: dict[str, Any]) -> None:
    for key, value in source.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        elif key in target:
            target[key] = value


def do_update_notifications(conn: Connection, scope: Scope, changes: NotificationChanges) -> RowMapping:
    current = get_service_configuration(conn, scope)
    if changes:
        settings = notification_settings(current["notifications"])
        for path, value in changes.items():
            node = settings
            for key in path[:-1]:
                node = node[key]
            node[path[-1]] = value
        conn.execute(update(service_configurations)
                     .where(service_configurations.c.chat_service_sid == current["chat_service_sid"])
                     .values(notifications=orjson.dumps(settings).decode()))
    return get_service_configuration(conn, scope)


# -- push bindings (created by push registration; the REST API reads and deletes them) --------------

def get_binding(conn: Connection, scope: Scope, sid: str) -> RowMapping:
    service = service_sid(conn, scope)
    row = None
    if is_sid(sid, "BS"):
        row = conn.execute(select(bindings).where(
            bindings.c.sid == sid, bindings.c.chat_service_sid == service)).mappings().first()
    if row is None:
        raise not_found(f"/Services/{service}/Bindings/{sid[:64]}")
    return row


def do_delete_binding(conn: Connection, scope: Scope, sid: str) -> None:
    binding = get_binding(conn, scope, sid)
    conn.execute(delete(bindings).where(bindings.c.sid == binding["sid"]))
