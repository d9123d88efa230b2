"""/v1/Credentials: push credentials. Certificates, private keys, API keys and secrets are write-only."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select
from starlette.responses import Response
from starlette.routing import Route

from hubbub.actions import credentials as actions
from hubbub.api.forms import Form
from hubbub.api.http import Call, json_response
from hubbub.api.pagination import PageRequest, envelope
from hubbub.api.routing import resource
from hubbub.domain.clock import iso
from hubbub.store.schema import credentials

MAX_FRIENDLY_NAME = 64
MAX_SECRET = 64 * 1024  # a PEM certificate chain or an FCM service-account JSON fits comfortably


def credential(call: Call, row: Any) -> dict[str, Any]:
    return {
        "sid": row["sid"],
        "account_sid": row["account_sid"],
        "friendly_name": row["friendly_name"],
        "type": row["type"],
        "sandbox": row["sandbox"],
        "date_created": iso(row["date_created"]),
        "date_updated": iso(row["date_updated"]),
        "url": f"{call.base_url}/v1/Credentials/{row['sid']}",
    }


def credential_fields(form: Form) -> actions.CredentialFields:
    return actions.CredentialFields(
        type=form.enum("Type", actions.TYPES),
        friendly_name=form.str("FriendlyName", max_len=MAX_FRIENDLY_NAME),
        certificate=form.str("Certificate", max_len=MAX_SECRET),
        private_key=form.str("PrivateKey", max_len=MAX_SECRET),
        sandbox=form.boolean("Sandbox"),
        api_key=form.str("ApiKey", max_len=MAX_SECRET),
        secret=form.str("Secret", max_len=MAX_SECRET),
    )


async def create(call: Call) -> Response:
    call.form.str("Type", required=True)
    fields = credential_fields(call.form)
    return await call.write(lambda conn: actions.do_create_credential(conn, call.scope, fields),
                            lambda row: credential(call, row), 201)


async def update(call: Call) -> Response:
    fields = credential_fields(call.form)
    sid = call.path["Sid"]
    return await call.write(lambda conn: actions.do_update_credential(conn, call.scope, sid, fields),
                            lambda row: credential(call, row))


async def remove(call: Call) -> Response:
    sid = call.path["Sid"]
    return await call.write(lambda conn: actions.do_delete_credential(conn, call.scope, sid), None)


async def fetch(call: Call) -> Response:
    sid = call.path["Sid"]
    row = await call.db.read(lambda conn: actions.get_credential(conn, call.scope.account_sid, sid))
    return json_response(credential(call, row))


async def list_(call: Call) -> Response:
    page = PageRequest(call, max_size=100)

    def query(conn: Connection) -> Any:
        q = select(credentials).where(credentials.c.account_sid == call.scope.account_sid)
        return page.fetch(conn, q, credentials.c.id)

    rows, has_next, has_prev = await call.db.read(query)
    return json_response(envelope(call, "credentials", page, rows, has_next, has_prev,
                                  lambda r: r["id"], lambda r: credential(call, r)))


routes: list[Route] = [
    resource("/v1/Credentials", GET=list_, POST=create),
    resource("/v1/Credentials/{Sid}", GET=fetch, POST=update, DELETE=remove),
]
