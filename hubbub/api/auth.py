"""HTTP Basic authentication with an Account SID + Auth Token or an API key SID + secret.

Successful look-ups are cached for a short time so the hot path does not hit the database; a miss
always asks the database, so keys created by `hubbub keys create` in another process work at once.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import time

from sqlalchemy import Connection, select

from hubbub.errors import AuthenticationFailed
from hubbub.store.database import Database
from hubbub.store.schema import accounts, api_keys

CACHE_SECONDS = 30.0


def _failed() -> AuthenticationFailed:
    return AuthenticationFailed("Authentication Error - invalid username or password")


def parse_basic(header: str | None) -> tuple[str, str]:
    if not header or not header[:6].lower() == "basic ":
        raise AuthenticationFailed("Authentication Error - No credentials provided")
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise _failed() from None
    username, sep, password = decoded.partition(":")
    if not sep or not username or not password or "\x00" in decoded:
        raise _failed()
    return username, password


class Authenticator:
    def __init__(self, db: Database) -> None:
        self._db = db
        # username -> (account_sid, secret, cached_at)
        self._cache: dict[str, tuple[str, str, float]] = {}

    async def account_for(self, header: str | None) -> str:
        username, password = parse_basic(header)
        hit = self._cache.get(username)
        if hit is not None and time.monotonic() - hit[2] < CACHE_SECONDS:
            account_sid, secret = hit[0], hit[1]
        else:
            found = await self._db.read(lambda conn: _lookup(conn, username))
            if found is None:
                raise _failed()
            account_sid, secret = found
            self._cache[username] = (account_sid, secret, time.monotonic())
        if not hmac.compare_digest(secret.encode(), password.encode()):
            raise _failed()
        return account_sid

    def forget(self, username: str) -> None:
        self._cache.pop(username, None)


def _lookup(conn: Connection, username: str) -> tuple[str, str] | None:
    if username.startswith("AC"):
        row = conn.execute(select(accounts.c.sid, accounts.c.auth_token)
                           .where(accounts.c.sid == username)).first()
        return (row.sid, row.auth_token) if row else None
    if username.startswith("SK"):
        row = conn.execute(select(api_keys.c.account_sid, api_keys.c.secret)
                           .where(api_keys.c.sid == username)).first()
        return (row.account_sid, row.secret) if row else None
    return None
