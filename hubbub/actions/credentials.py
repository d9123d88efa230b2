"""Push credentials (`/v1/Credentials`): APN certificates, GCM API keys and FCM secrets. The secrets are
stored for the push sender and never returned by the API."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import Connection, RowMapping, delete, insert, select, update

from hubbub.actions.common import Scope, not_found
from hubbub.domain import clock
from hubbub.domain.sids import is_sid, new_sid
from hubbub.store.schema import credentials

TYPES = ("apn", "gcm", "fcm")


@dataclass(frozen=True)
class CredentialFields:
    """The writable fields of a credential; None means 'not given'."""

    type: str | None = None
    friendly_name: str | None = None
    certificate: str | None = None
    private_key: str | None = None
    sandbox: bool | None = None
    api_key: str | None = None
    secret: str | None = None

    def values(self) -> dict[str, Any]:
        """Column → value for the fields given; `sandbox` is stored as Twilio renders it, "True"/"False"."""
        values = {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}
        if self.sandbox is not None:
            values["sandbox"] = str(self.sandbox)
        return values


def get_credential(conn: Connection, account_sid: str, sid: str) -> RowMapping:
    row = None
    if is_sid(sid, "CR"):
        row = conn.execute(select(credentials).where(
            credentials.c.sid == sid, credentials.c.account_sid == account_sid)).mappings().first()
    if row is None:
        raise not_found(f"/Credentials/{sid[:64]}")
    return row


def do_create_credential(conn: Connection, scope: Scope, fields: CredentialFields) -> RowMapping:
    now = clock.now()
    sid = new_sid("CR")
    values = fields.values()
    if fields.type == "apn":
        values.setdefault("sandbox", "False")  # production APNs unless asked otherwise
    conn.execute(insert(credentials).values(sid=sid, account_sid=scope.account_sid, date_created=now,
                                            date_updated=now, **values))
    return get_credential(conn, scope.account_sid, sid)


def do_update_credential(conn: Connection, scope: Scope, sid: str, fields: CredentialFields) -> RowMapping:
    current = get_credential(conn, scope.account_sid, sid)
    conn.execute(update(credentials).where(credentials.c.sid == current["sid"])
                 .values(date_updated=clock.now(), **fields.values()))
    return get_credential(conn, scope.account_sid, current["sid"])


def do_delete_credential(conn: Connection, scope: Scope, sid: str) -> None:
    current = get_credential(conn, scope.account_sid, sid)
    conn.execute(delete(credentials).where(credentials.c.sid == current["sid"]))
