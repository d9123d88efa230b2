"""Media, in the shape of Twilio's Media Content Service (`https://mcs.us1.twilio.com/v1`), served under
Hubbub's own base URL:

- `POST /v1/Services/{IS}/Media`: the raw bytes as the body, the media's type as `Content-Type`; an
  optional file name as `?Filename=` or `Content-Disposition: …; filename="…"`; `?Category=` media (the
  default), body or history. Streamed to disk, never held in memory. 201 with the media record.
- `GET /v1/Services/{IS}/Media/{ME}`: the record; `DELETE` removes an unattached media (204).
- `GET /v1/Services/{IS}/Media/{ME}/Content`: the bytes, with Basic auth, or without it through the signed
  `links.content_direct_temporary` URL (valid 300 seconds, as Twilio's).

Upload and content bypass the form-parsing `endpoint` wrapper (their bodies are not forms, and an upload
may be far larger than a form), so they authenticate and render errors themselves, the same way.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import os
import re
from email.message import Message
from typing import Any
from urllib.parse import quote

from sqlalchemy import select
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from hubbub import errors
from hubbub.actions import media as actions
from hubbub.api.http import Call, base_url, error_response, json_response
from hubbub.api.routing import resource
from hubbub.domain import clock
from hubbub.domain.clock import iso
from hubbub.domain.sids import is_sid, new_sid
from hubbub.errors import InvalidParameter, MethodNotAllowed, NotFound, TwilioError
from hubbub.media.files import UploadEmpty, UploadTooLarge
from hubbub.store.schema_media import media as media_table

log = logging.getLogger(__name__)

TEMPORARY_URL_SECONDS = 300  # Twilio's temporary content URLs expire after 300 s
MAX_FILENAME = 256
_TOKEN = r"[A-Za-z0-9!#$&^_.+\-]{1,127}"
_CONTENT_TYPE_RE = re.compile(rf"^{_TOKEN}/{_TOKEN}$")
_ALL_METHODS = ["GET", "POST", "DELETE", "PUT", "PATCH", "OPTIONS"]
_INLINE_TYPES = ("image/", "audio/", "video/")


# -- representation --------------------------------------------------------------------------------------

def _signature(row: Any, expires: int) -> str:
    return hmac.new(bytes.fromhex(row["secret"]), f"{row['sid']}:{expires}".encode(), hashlib.sha256).hexdigest()


def media_json(origin: str, row: Any) -> dict[str, Any]:
    """The MCS media record. `url` and `links.content` are paths, as MCS answers them; the temporary URL
    is absolute and needs no credentials."""
    path = f"/v1/Services/{row['chat_service_sid']}/Media/{row['sid']}"
    expires = clock.now() + TEMPORARY_URL_SECONDS
    return {
        "sid": row["sid"],
        "account_sid": row["account_sid"],
        "service_sid": row["chat_service_sid"],
        "date_created": iso(row["date_created"]),
        "date_upload_updated": iso(row["date_created"]),
        "date_updated": iso(row["date_updated"]),
        "links": {
            "content": f"{path}/Content",
            "content_direct_temporary":
                f"{origin}{path}/Content?Expires={expires}&Signature={_signature(row, expires)}",
        },
        "size": row["size"],
        "content_type": row["content_type"],
        "filename": row["filename"],
        "author": row["author"],
        "category": row["category"],
        "message_sid": row["message_sid"],
        "channel_sid": row["conversation_sid"],
        "url": path,
        "is_multipart_upstream": False,
    }


# -- request parsing -------------------------------------------------------------------------------------

def _content_type(header: str | None) -> str:
    value = (header or "").strip()
    if not value:
        raise InvalidParameter("Content-Type is required: send the media's MIME type (e.g. image/png)",
                               code=errors.MEDIA_CONTENT_TYPE_INVALID)
    main = value.split(";", 1)[0].strip().lower()
    if main.startswith("multipart/"):
        raise TwilioError("Multipart uploads are not supported: send the raw bytes as the body with the "
                          "media's Content-Type", code=errors.MEDIA_CONTENT_TYPE_INVALID, status=415)
    if len(value) > 255 or not _CONTENT_TYPE_RE.match(main) or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise InvalidParameter(f"Invalid Content-Type: '{value[:64]}' is not a MIME type",
                               code=errors.MEDIA_CONTENT_TYPE_INVALID)
    return value


def _filename(request: Request) -> str | None:
    name = request.query_params.get("Filename") or request.query_params.get("FileName")
    if name is None:
        disposition = request.headers.get("content-disposition")
        if disposition:
            message = Message()
            message["content-disposition"] = disposition
            name = message.get_filename()  # RFC 2231 / 6266 `filename*=` included
    if name is None or name == "":
        return None
    if len(name) > MAX_FILENAME or any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise InvalidParameter(f"Invalid Filename: at most {MAX_FILENAME} characters, no control characters")
    return name


def _category(request: Request) -> str:
    category = request.query_params.get("Category", "media")
    if category not in actions.CATEGORIES:
        raise InvalidParameter(f"Invalid Category: '{category[:32]}' is not one of media, body, history")
    return category


def _path_sids(request: Request) -> tuple[str, str]:
    service, sid = request.path_params["ChatServiceSid"], request.path_params.get("Sid", "")
    if not is_sid(service, "IS"):
        raise NotFound(f"The requested resource /Services/{service[:64]} was not found")
    if sid and not is_sid(sid, "ME"):
        raise NotFound(f"The requested resource /Services/{service}/Media/{sid[:64]} was not found")
    return service, sid


def _unhandled(request: Request) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(TwilioError("Internal server error", code=20500, status=500))


# -- handlers --------------------------------------------------------------------------------------------

async def upload(request: Request) -> Response:
    try:
        hub = request.app.state.hubbub
        store = request.app.state.media
        account_sid = await hub.auth.account_for(request.headers.get("authorization"))
        service, _ = _path_sids(request)
        content_type = _content_type(request.headers.get("content-type"))
        filename, category = _filename(request), _category(request)
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > store.max_bytes:
            raise TwilioError(f"Media size is too large: at most {store.max_bytes} bytes",
                              code=errors.MEDIA_TOO_LARGE, status=413)
        await hub.db.read(lambda conn: actions.check_service(conn, account_sid, service))
        sid = new_sid("ME")
        try:
            stored = await store.files.receive(sid, request.stream(), store.max_bytes)
        except UploadTooLarge:
            raise TwilioError(f"Media size is too large: at most {store.max_bytes} bytes",
                              code=errors.MEDIA_TOO_LARGE, status=413) from None
        except UploadEmpty:
            raise InvalidParameter("The upload is empty: send the media's bytes as the request body",
                                   code=errors.MEDIA_EMPTY) from None
        new = actions.NewMedia(sid, account_sid, service, content_type, filename, category, stored.size,
                               stored.sha256)
        try:
            row = await hub.db.write(lambda conn: actions.do_create_media(conn, new))
        except Exception:  # not on cancellation: the queued write may still commit, and needs its file
            await asyncio.to_thread(store.files.remove, sid)  # no row: the file must not stay behind
            raise
        return json_response(media_json(base_url(request), row), 201)
    except TwilioError as exc:
        return error_response(exc)
    except ClientDisconnect:  # the client went away mid-upload: nothing was stored, nobody to answer
        return Response(status_code=400)
    except Exception:
        return _unhandled(request)


async def fetch(call: Call) -> Response:
    service, sid = _path_sids(call.request)
    row = await call.db.read(lambda conn: actions.get_media(conn, call.scope.account_sid, service, sid))
    return json_response(media_json(call.base_url, row))


async def remove(call: Call) -> Response:
    service, sid = _path_sids(call.request)
    return await call.write(lambda conn: actions.do_delete_media(conn, call.scope.account_sid, service, sid), None)


def _disposition(content_type: str, filename: str | None) -> str:
    kind = "inline" if content_type.lower().startswith(_INLINE_TYPES) and "svg" not in content_type.lower() \
        else "attachment"
    if not filename:
        return kind
    ascii_name = filename.encode("ascii", "replace").decode().replace("\\", "_").replace('"', "_")
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"


async def _signed_row(request: Request, service: str, sid: str) -> Any:
    """The media a temporary URL names, if its signature is valid and unexpired (else 403, saying no more)."""
    denied = TwilioError("The temporary URL is invalid or has expired", code=20403, status=403)
    expires_text = request.query_params.get("Expires", "")
    signature = request.query_params.get("Signature", "")
    if not expires_text.isdigit() or len(expires_text) > 12 or int(expires_text) < clock.now():
        raise denied
    def query(conn: Any) -> Any:
        return conn.execute(select(media_table).where(
            media_table.c.sid == sid, media_table.c.chat_service_sid == service, actions.live_media())
        ).mappings().first()

    row = await request.app.state.hubbub.db.read(query)
    if row is None or not hmac.compare_digest(_signature(row, int(expires_text)).encode(),
                                              signature.encode("utf-8", "surrogatepass")):
        raise denied
    return row


async def content(request: Request) -> Response:
    try:
        if request.method not in ("GET", "HEAD"):
            raise MethodNotAllowed(f"Method {request.method} not allowed")
        hub = request.app.state.hubbub
        store = request.app.state.media
        service, sid = _path_sids(request)
        if "Signature" in request.query_params or "Expires" in request.query_params:
            row = await _signed_row(request, service, sid)
        else:
            account_sid = await hub.auth.account_for(request.headers.get("authorization"))
            row = await hub.db.read(lambda conn: actions.get_media(conn, account_sid, service, sid))
        path = store.files.path_for(sid)
        try:
            stat = await asyncio.to_thread(os.stat, path)
        except FileNotFoundError:  # deleted between the read and now
            raise NotFound(f"The requested resource /Services/{service}/Media/{sid}/Content was not found") \
                from None
        headers = {
            "Content-Disposition": _disposition(row["content_type"], row["filename"]),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox",
            "Cache-Control": "private, max-age=300",
            "ETag": f'"{row["sha256"]}"',
        }
        return FileResponse(path, media_type=row["content_type"], headers=headers, stat_result=stat)
    except TwilioError as exc:
        return error_response(exc)
    except Exception:
        return _unhandled(request)


async def _upload_or_405(request: Request) -> Response:
    if request.method != "POST":
        response = error_response(MethodNotAllowed(f"Method {request.method} not allowed"))
        response.headers["Allow"] = "POST"
        return response
    return await upload(request)


MEDIA = "/v1/Services/{ChatServiceSid}/Media"

routes: list[Route] = [
    Route(MEDIA, _upload_or_405, methods=_ALL_METHODS),
    resource(f"{MEDIA}/{{Sid}}", GET=fetch, DELETE=remove),
    Route(f"{MEDIA}/{{Sid}}/Content", content, methods=_ALL_METHODS),
]
