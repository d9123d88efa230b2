"""Accounts, API keys and what every account starts with (its default Conversation Service)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import orjson
from sqlalchemy import Connection, insert, select

from hubbub.domain import clock
from hubbub.domain.roles import DEFAULT_ROLES
from hubbub.domain.sids import new_sid
from hubbub.store.schema import (
    accounts,
    api_keys,
    configurations,
    roles,
    service_configurations,
    services,
)


@dataclass(frozen=True)
class Credentials:
    account_sid: str
    auth_token: str
    created: bool


def new_auth_token() -> str:
    return secrets.token_hex(16)


def do_create_service(conn: Connection, account_sid: str, friendly_name: str | None) -> str:
    now = clock.now()
    sid = new_sid("IS")
    conn.execute(insert(services).values(sid=sid, account_sid=account_sid, friendly_name=friendly_name,
                                         date_created=now, date_updated=now))
    role_sids = {name: new_sid("RL") for name, _, _ in DEFAULT_ROLES}
    conn.execute(insert(roles), [
        {"sid": role_sids[name], "account_sid": account_sid, "chat_service_sid": sid, "friendly_name": name,
         "type": role_type, "permissions": orjson.dumps(list(perms)).decode(), "date_created": now,
         "date_updated": now}
        for name, role_type, perms in DEFAULT_ROLES
    ])
    conn.execute(insert(service_configurations).values(
        chat_service_sid=sid, account_sid=account_sid,
        default_chat_service_role_sid=role_sids["service user"],
        default_conversation_role_sid=role_sids["channel user"],
        default_conversation_creator_role_sid=role_sids["channel admin"],
        reachability_enabled=False, notifications="{}", webhook_filters="[]", webhook_method="POST"))
    return sid


def do_ensure_account(conn: Connection, account_sid: str | None, auth_token: str | None) -> Credentials:
    """Create the account (with its default service and configuration) unless it exists.

    With an explicit SID and token the stored token is brought in line with the one given, so
    `HUBBUB_AUTH_TOKEN` stays the source of truth.
    """
    if account_sid is None:
        existing = conn.execute(select(accounts.c.sid, accounts.c.auth_token)
                                .order_by(accounts.c.date_created).limit(1)).first()
        if existing is not None:
            return Credentials(existing.sid, existing.auth_token, False)
        account_sid = new_sid("AC")
    else:
        existing = conn.execute(select(accounts.c.sid, accounts.c.auth_token)
                                .where(accounts.c.sid == account_sid)).first()
        if existing is not None:
            if auth_token is not None and auth_token != existing.auth_token:
                conn.execute(accounts.update().where(accounts.c.sid == account_sid)
                             .values(auth_token=auth_token))
                return Credentials(account_sid, auth_token, False)
            return Credentials(account_sid, existing.auth_token, False)
    token = auth_token or new_auth_token()
    conn.execute(insert(accounts).values(sid=account_sid, auth_token=token, friendly_name="Hubbub",
                                         date_created=clock.now()))
    service = do_create_service(conn, account_sid, "Default Conversations Service")
    conn.execute(insert(configurations).values(account_sid=account_sid, default_chat_service_sid=service))
    return Credentials(account_sid, token, True)


def do_create_api_key(conn: Connection, account_sid: str, friendly_name: str | None) -> tuple[str, str]:
    if conn.execute(select(accounts.c.sid).where(accounts.c.sid == account_sid)).first() is None:
        raise LookupError(f"no account {account_sid}")
    sid, secret = new_sid("SK"), secrets.token_urlsafe(24)
    conn.execute(insert(api_keys).values(sid=sid, account_sid=account_sid, secret=secret,
                                         friendly_name=friendly_name, date_created=clock.now()))
    return sid, secret
