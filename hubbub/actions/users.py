"""Users: the chat identities of a Conversation Service. A user is created through the API or, with
the service's default role, the first time its identity joins a conversation of the service."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, RowMapping, delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from hubbub import errors
from hubbub.actions.common import Scope, emit, not_found, service_sid
from hubbub.actions.roles import check_service_role
from hubbub.domain import clock
from hubbub.domain.sids import is_sid, new_sid
from hubbub.errors import Conflict, InvalidParameter
from hubbub.store.schema import service_configurations, users


@dataclass(frozen=True)
class UserFields:
    """The writable fields of a user; None means 'not given'."""

    identity: str | None = None
    friendly_name: str | None = None
    attributes: str | None = None
    role_sid: str | None = None


def check_create_user(fields: UserFields) -> UserFields:
    if fields.identity is None:
        raise InvalidParameter("Missing required parameter Identity in the post body")
    if is_sid(fields.identity, "US"):
        # a user is addressed by SID or identity, so an identity must never look like a SID
        raise InvalidParameter("Identity should not match the user SID pattern",
                               code=errors.IDENTITY_IS_USER_SID)
    return fields


def find_user(conn: Connection, service: str, key: str) -> RowMapping | None:
    """A user of `service` by `US…` SID or by identity."""
    clause = users.c.sid == key if is_sid(key, "US") else users.c.identity == key
    return conn.execute(select(users).where(users.c.chat_service_sid == service, clause)).mappings().first()


def get_user(conn: Connection, scope: Scope, key: str) -> RowMapping:
    row = find_user(conn, service_sid(conn, scope), key)
    if row is None:
        raise not_found(f"/Users/{key[:256]}")
    return row


def _default_role(conn: Connection, service: str) -> str | None:
    return conn.execute(select(service_configurations.c.default_chat_service_role_sid).where(
        service_configurations.c.chat_service_sid == service)).scalar_one_or_none()


def _user_exists(identity: str) -> Conflict:
    return Conflict(f"User with identity '{identity}' already exists", code=errors.USER_EXISTS)


def do_create_user(conn: Connection, scope: Scope, fields: UserFields) -> RowMapping:
    service = service_sid(conn, scope)
    identity = fields.identity or ""
    if conn.execute(select(users.c.id).where(users.c.chat_service_sid == service,
                                             users.c.identity == identity)).first():
        raise _user_exists(identity)
    if fields.role_sid is not None:
        check_service_role(conn, service, fields.role_sid)
    now = clock.now()
    sid = new_sid("US")
    try:
        conn.execute(insert(users).values(
            sid=sid, account_sid=scope.account_sid, chat_service_sid=service, identity=identity,
            friendly_name=fields.friendly_name, attributes=fields.attributes or "{}",
            role_sid=fields.role_sid or _default_role(conn, service), is_online=None, is_notifiable=None,
            date_created=now, date_updated=now))
    except IntegrityError:  # a concurrent create (or first join) of the same identity committed first
        raise _user_exists(identity) from None
    row = conn.execute(select(users).where(users.c.sid == sid)).mappings().one()
    emit(conn, scope, "onUserAdded", None, {"user": dict(row)})
    return row


def do_update_user(conn: Connection, scope: Scope, key: str, fields: UserFields) -> RowMapping:
    current = get_user(conn, scope, key)
    changes: dict[str, Any] = {}
    if fields.friendly_name is not None:
        changes["friendly_name"] = fields.friendly_name
    if fields.attributes is not None:
        changes["attributes"] = fields.attributes
    if fields.role_sid is not None:
        check_service_role(conn, current["chat_service_sid"], fields.role_sid)
        changes["role_sid"] = fields.role_sid
    changes["date_updated"] = clock.now()
    conn.execute(update(users).where(users.c.sid == current["sid"]).values(**changes))
    row = conn.execute(select(users).where(users.c.sid == current["sid"])).mappings().one()
    emit(conn, scope, "onUserUpdated", None, {"user": dict(row)})
    return row


def do_delete_user(conn: Connection, scope: Scope, key: str) -> None:
    """Deletes the user only: its participants stay in their conversations (they belong to them)."""
    current = get_user(conn, scope, key)
    conn.execute(delete(users).where(users.c.sid == current["sid"]))
    emit(conn, scope, "onUserRemoved", None, {"user": dict(current)})


def ensure_user(conn: Connection, scope: Scope, service: str, identity: str | None) -> None:
    """Create the user of a chat identity that joins a conversation of `service`, unless it exists.

    Runs in the caller's transaction; `ON CONFLICT DO NOTHING` makes a concurrent first join of the same
    identity (in another conversation) a no-op instead of a failed write.
    """
    if identity is None or conn.execute(select(users.c.id).where(
            users.c.chat_service_sid == service, users.c.identity == identity)).first():
        return
    now = clock.now()
    sid = new_sid("US")
    values = dict(sid=sid, account_sid=scope.account_sid, chat_service_sid=service, identity=identity,
                  friendly_name=None, attributes="{}", role_sid=_default_role(conn, service), is_online=None,
                  is_notifiable=None, date_created=now, date_updated=now)
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    inserted = conn.execute(dialect.insert(users).values(**values).on_conflict_do_nothing(
        index_elements=["chat_service_sid", "identity"]).returning(users.c.sid)).first()
    if inserted is not None:
        row = conn.execute(select(users).where(users.c.sid == sid)).mappings().one()
        emit(conn, scope, "onUserAdded", None, {"user": dict(row)})
