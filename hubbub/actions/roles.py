"""Roles: named permission sets of a Conversation Service, of type `service` (assigned to users) or
`conversation` (assigned to participants). A role that anything still refers to cannot be deleted."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import orjson
from sqlalchemy import Connection, RowMapping, delete, insert, or_, select, update

from hubbub import errors
from hubbub.actions.common import Scope, not_found, service_sid
from hubbub.domain import clock
from hubbub.domain.roles import CONVERSATION_PERMISSIONS, SERVICE_PERMISSIONS
from hubbub.domain.sids import is_sid, new_sid
from hubbub.errors import Conflict, InvalidParameter
from hubbub.store.schema import participants, roles, service_configurations, users

ROLE_TYPES = ("conversation", "service")
PERMISSIONS = {"service": SERVICE_PERMISSIONS, "conversation": CONVERSATION_PERMISSIONS}


@dataclass(frozen=True)
class RoleFields:
    friendly_name: str
    type: str
    permissions: tuple[str, ...]


def check_permissions(role_type: str, permissions: Sequence[str]) -> tuple[str, ...]:
    """Each permission must be one of the role type's permission names; repeats collapse, order stays."""
    if not permissions:
        raise InvalidParameter("At least one Permission is required")
    allowed = PERMISSIONS[role_type]
    for permission in permissions:
        if permission not in allowed:
            raise InvalidParameter(f"Invalid Permission: '{permission[:64]}' is not a permission of "
                                   f"{role_type} roles", code=errors.PERMISSION_NOT_FOUND)
    return tuple(dict.fromkeys(permissions))


def check_create_role(friendly_name: str, role_type: str, permissions: Sequence[str]) -> RoleFields:
    if role_type not in ROLE_TYPES:
        raise InvalidParameter(f"Invalid Type: '{role_type[:64]}' is not one of conversation, service",
                               code=errors.INVALID_ROLE_TYPE)
    return RoleFields(friendly_name, role_type, check_permissions(role_type, permissions))


def get_role(conn: Connection, scope: Scope, key: str, *, lock: bool = False) -> RowMapping:
    service = service_sid(conn, scope)
    if not is_sid(key, "RL"):
        raise not_found(f"/Roles/{key[:64]}")
    query = select(roles).where(roles.c.sid == key, roles.c.chat_service_sid == service,
                                roles.c.account_sid == scope.account_sid)
    row = conn.execute(query.with_for_update() if lock else query).mappings().first()
    if row is None:
        raise not_found(f"/Roles/{key}")
    return row


def check_service_role(conn: Connection, service: str, role_sid: str) -> None:
    """`role_sid` must be a `service` role of `service`. The row is share-locked, so a concurrent delete
    of the role waits for this transaction and then sees the new reference."""
    found = conn.execute(select(roles.c.type)
                         .where(roles.c.sid == role_sid, roles.c.chat_service_sid == service)
                         .with_for_update(read=True)).first()
    if found is None or found.type != "service":
        raise InvalidParameter(f"Invalid RoleSid: {role_sid} is not a service role of this service",
                               code=errors.ROLE_NOT_FOUND)


def do_create_role(conn: Connection, scope: Scope, fields: RoleFields) -> RowMapping:
    service = service_sid(conn, scope)
    now = clock.now()
    sid = new_sid("RL")
    conn.execute(insert(roles).values(
        sid=sid, account_sid=scope.account_sid, chat_service_sid=service, friendly_name=fields.friendly_name,
        type=fields.type, permissions=orjson.dumps(list(fields.permissions)).decode(), date_created=now,
        date_updated=now))
    return conn.execute(select(roles).where(roles.c.sid == sid)).mappings().one()


def do_update_role(conn: Connection, scope: Scope, key: str, permissions: Sequence[str]) -> RowMapping:
    """The given permissions replace the role's whole set."""
    current = get_role(conn, scope, key, lock=True)
    granted = check_permissions(current["type"], permissions)
    conn.execute(update(roles).where(roles.c.sid == current["sid"]).values(
        permissions=orjson.dumps(list(granted)).decode(), date_updated=clock.now()))
    return conn.execute(select(roles).where(roles.c.sid == current["sid"])).mappings().one()


def role_use(conn: Connection, role_sid: str) -> str | None:
    """What still refers to the role, if anything (for the error message)."""
    config = service_configurations.c
    if conn.execute(select(config.chat_service_sid).where(or_(
            config.default_chat_service_role_sid == role_sid,
            config.default_conversation_role_sid == role_sid,
            config.default_conversation_creator_role_sid == role_sid))).first():
        return "it is a default role in the service configuration"
    if conn.execute(select(users.c.id).where(users.c.role_sid == role_sid).limit(1)).first():
        return "it is assigned to a user"
    if conn.execute(select(participants.c.id).where(participants.c.role_sid == role_sid).limit(1)).first():
        return "it is assigned to a participant"
    return None


def do_delete_role(conn: Connection, scope: Scope, key: str) -> None:
    current = get_role(conn, scope, key, lock=True)
    use = role_use(conn, current["sid"])
    if use is not None:
        raise Conflict(f"Role {current['sid']} cannot be deleted: {use}", code=errors.ROLE_IN_USE)
    conn.execute(delete(roles).where(roles.c.sid == current["sid"]))
