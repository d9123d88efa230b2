"""The WebSocket endpoint `/v1/Realtime`: protocol version 1 (docs/client-protocol.md).

The gateway only speaks the protocol: it verifies access tokens, parses requests, and hands every client
action to `hubbub.actions.realtime` (which enforces roles and calls the existing actions) through
`Database.write`, with a Scope whose source is "SDK" and whose client identity is the token's. Pre-action
webhooks run before the write, as for REST. Events reach the client through the hub (hub.py).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from hubbub import errors
from hubbub.actions import realtime as actions
from hubbub.actions.common import Scope
from hubbub.actions.conversations import ConversationFields, check_create_conversation
from hubbub.actions.messages import MessageFields, check_create_message
from hubbub.actions.participants import ParticipantFields, check_create_participant
from hubbub.actions.users import UserFields
from hubbub.domain.sids import is_sid
from hubbub.errors import InvalidParameter, TwilioError
from hubbub.realtime import render, tokens
from hubbub.realtime.hub import MAX_REPLAY, Hub, Session
from hubbub.realtime.output import OutFrame, output_for
from hubbub.webhooks import pre

log = logging.getLogger(__name__)

PROTOCOL_VERSION = 1
CONNECT_TIMEOUT = 30.0
MAX_FRAME = 64 * 1024
MAX_BODY_BYTES = 32 * 1024
MAX_MESSAGE_ATTRIBUTES = 4 * 1024
MAX_ATTRIBUTES = 16 * 1024
CLOSE_TOKEN_EXPIRED = 4401
CLOSE_PROTOCOL = 4400
# Frames written straight to uvicorn's transport (output.py); HUBBUB_REALTIME_DIRECT_WRITES=0 sends them
# through the portable ASGI path instead (a queue and a writer task per connection).
DIRECT_WRITES = os.environ.get("HUBBUB_REALTIME_DIRECT_WRITES", "1") != "0"


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def error_frame(error: TwilioError, request_id: Any = None) -> OutFrame:
    return OutFrame.of({"type": "error", "id": request_id, "code": error.code, "status": error.status,
                        "message": error.message})


class Params:
    """Typed access to a request's `params`, raising Twilio-style 400s like the REST form codec."""

    def __init__(self, raw: Any) -> None:
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise InvalidParameter("Invalid params: must be an object")
        self.raw = raw

    def text(self, name: str, *, required: bool = False, max_len: int = 256) -> str | None:
        value = self.raw.get(name)
        if value is None:
            if required:
                raise InvalidParameter(f"Missing required parameter {name}")
            return None
        if not isinstance(value, str) or "\x00" in value:
            raise InvalidParameter(f"Invalid {name}: must be a string")
        if len(value) > max_len:
            raise InvalidParameter(f"Invalid {name}: longer than {max_len} characters")
        return value

    def sid(self, name: str, prefix: str, *, required: bool = True) -> str | None:
        value = self.text(name, required=required, max_len=34)
        if value is not None and not is_sid(value, prefix):
            raise InvalidParameter(f"Invalid {name}: not a {prefix} SID")
        return value

    def key(self, name: str = "conversation") -> str:
        """A conversation SID or unique name."""
        return self.text(name, required=True) or ""

    def integer(self, name: str) -> int | None:
        value = self.raw.get(name)
        if value is None:
            return None
        if not isinstance(value, int) or isinstance(value, bool) or value < 0 or value > 2**53:
            raise InvalidParameter(f"Invalid {name}: must be a non-negative integer")
        return value

    def body(self) -> str | None:
        value = self.text("body", max_len=MAX_FRAME)
        if value is not None and len(value.encode("utf-8", "surrogatepass")) > MAX_BODY_BYTES:
            raise InvalidParameter(f"Invalid body: larger than {MAX_BODY_BYTES} bytes", code=errors.BODY_TOO_LONG)
        return value

    def attributes(self, max_bytes: int) -> str | None:
        value = self.raw.get("attributes")
        if value is None:
            return None
        text = value if isinstance(value, str) else _dumps(value)
        if len(text.encode("utf-8", "surrogatepass")) > max_bytes:
            raise InvalidParameter(f"Invalid attributes: larger than {max_bytes} bytes", code=50006)
        try:
            orjson.loads(text)
        except orjson.JSONDecodeError:
            raise InvalidParameter("Invalid attributes: the value must be valid JSON", code=50006) from None
        return text

    def media_sids(self) -> tuple[str, ...]:
        value = self.raw.get("media_sids") or []
        if not isinstance(value, list) or len(value) > 10 or not all(
                isinstance(v, str) and is_sid(v, "ME") for v in value):
            raise InvalidParameter("Invalid media_sids: at most 10 ME… SIDs")
        return tuple(value)

    def page_size(self, default: int = 50) -> int:
        size = self.integer("page_size")
        if size is None:
            return default
        if not 1 <= size <= actions.MAX_PAGE:
            raise InvalidParameter(f"Invalid page_size: between 1 and {actions.MAX_PAGE}")
        return size


class Connection:
    """One client connection after a successful `connect`."""

    def __init__(self, ws: WebSocket, hub: Hub, db: Any, grant: tokens.AccessGrant, session: Session) -> None:
        self.ws = ws
        self.hub = hub
        self.db = db
        self.grant = grant
        self.session = session
        self.scope = Scope(grant.account_sid, grant.service_sid, "SDK", False, grant.identity)
        self.call = SimpleNamespace(scope=self.scope, request=SimpleNamespace(app=ws.app))
        self.expiry: asyncio.TimerHandle | None = None

    def schedule_expiry(self) -> None:
        if self.expiry is not None:
            self.expiry.cancel()
        delay = max(0.0, self.grant.expires + tokens.LEEWAY - time.time())
        self.expiry = asyncio.get_running_loop().call_later(delay, self._expired)

    def _expired(self) -> None:
        self.session.send(error_frame(tokens.token_error(errors.TOKEN_EXPIRED, "Access Token expired")))
        self.session.close(CLOSE_TOKEN_EXPIRED)

    async def read(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await self.db.read(lambda conn: fn(conn, self.scope, *args))

    async def write(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await self.db.write(lambda conn: fn(conn, self.scope, *args))


# -- client actions ------------------------------------------------------------------------------------
Handler = Callable[[Connection, Params], Awaitable[Any]]


async def _list_conversations(c: Connection, p: Params) -> Any:
    size = p.page_size()
    offset = p.integer("page_token") or 0
    rows, more = await c.read(actions.my_conversations, offset, size)
    return {"conversations": [render.my_conversation(r) for r in rows],
            "next_page_token": offset + size if more else None}


async def _get_messages(c: Connection, p: Params) -> Any:
    rows, more = await c.read(actions.conversation_messages, p.key(), p.integer("before"), p.page_size())
    return {"messages": [render.message(r) for r in rows], "has_more": more}


async def _get_participants(c: Connection, p: Params) -> Any:
    rows = await c.read(actions.conversation_participants, p.key())
    return {"participants": [render.participant(r) for r in rows]}


async def _send_message(c: Connection, p: Params) -> Any:
    key = p.key()
    fields = check_create_message(MessageFields(
        author=c.grant.identity, body=p.body(), attributes=p.attributes(MAX_MESSAGE_ATTRIBUTES),
        media_sids=p.media_sids()))
    await c.read(actions.authorize_send_message, key, fields)
    fields = await pre.message_add(c.call, key, fields)
    fields = replace(fields, author=c.grant.identity)  # a pre-action webhook cannot change the author
    return {"message": render.message(await c.write(actions.do_send_message, key, fields))}


async def _update_message(c: Connection, p: Params) -> Any:
    key, sid = p.key(), p.sid("message", "IM") or ""
    fields = MessageFields(body=p.body(), attributes=p.attributes(MAX_MESSAGE_ATTRIBUTES))
    if fields.body is None and fields.attributes is None:
        raise InvalidParameter("Nothing to update: give body or attributes")
    await c.read(actions.authorize_update_message, key, sid, fields)
    fields = replace(await pre.message_update(c.call, key, sid, fields), author=None)
    return {"message": render.message(await c.write(actions.do_sdk_update_message, key, sid, fields))}


async def _delete_message(c: Connection, p: Params) -> Any:
    key, sid = p.key(), p.sid("message", "IM") or ""
    await c.read(actions.authorize_delete_message, key, sid)
    await pre.message_remove(c.call, key, sid)
    await c.write(actions.do_sdk_delete_message, key, sid)
    return {}


async def _create_conversation(c: Connection, p: Params) -> Any:
    fields = check_create_conversation(ConversationFields(
        friendly_name=p.text("friendly_name"), unique_name=p.text("unique_name"),
        attributes=p.attributes(MAX_ATTRIBUTES)))
    await c.read(actions.authorize_create_conversation)
    fields = await pre.conversation_add(c.call, fields)
    return {"conversation": render.conversation(await c.write(actions.do_sdk_create_conversation, fields))}


async def _update_conversation(c: Connection, p: Params) -> Any:
    key = p.key()
    fields = ConversationFields(friendly_name=p.text("friendly_name"), attributes=p.attributes(MAX_ATTRIBUTES))
    if fields.friendly_name is None and fields.attributes is None:
        raise InvalidParameter("Nothing to update: give friendly_name or attributes")
    await c.read(actions.authorize_update_conversation, key, fields)
    fields = await pre.conversation_update(c.call, key, fields)
    return {"conversation": render.conversation(await c.write(actions.do_sdk_update_conversation, key, fields))}


async def _delete_conversation(c: Connection, p: Params) -> Any:
    key = p.key()
    await c.read(actions.authorize_delete_conversation, key)
    await pre.conversation_remove(c.call, key)
    await c.write(actions.do_sdk_delete_conversation, key)
    return {}


async def _join(c: Connection, p: Params) -> Any:
    key = p.key()
    await c.read(actions.authorize_join, key)
    fields = ParticipantFields(identity=c.grant.identity)
    await pre.participant_add(c.call, key, fields, check_create_participant(fields))
    return {"participant": render.participant(await c.write(actions.do_join, key))}


async def _add_participant(c: Connection, p: Params) -> Any:
    key = p.key()
    fields = ParticipantFields(identity=p.text("identity", required=True), attributes=p.attributes(MAX_ATTRIBUTES))
    binding = check_create_participant(fields)
    await c.read(actions.authorize_add_participant, key, fields)
    fields = await pre.participant_add(c.call, key, fields, binding)
    return {"participant": render.participant(await c.write(actions.do_add_participant, key, fields))}


async def _remove_participant(c: Connection, p: Params) -> Any:
    key, who = p.key(), p.text("participant", required=True) or ""
    await c.read(actions.authorize_remove_participant, key, who)
    await pre.participant_remove(c.call, key, who)
    await c.write(actions.do_remove_participant, key, who)
    return {}


async def _leave(c: Connection, p: Params) -> Any:
    return await _remove_participant(c, Params({"conversation": p.key(), "participant": c.grant.identity}))


async def _set_read(c: Connection, p: Params, *, advance: bool) -> Any:
    key, index = p.key(), p.integer("index")
    if index is None and not p.raw.get("all"):
        raise InvalidParameter("Missing required parameter index (or all: true)")
    await c.read(actions.authorize_read_horizon, key)
    row = await c.write(lambda conn, scope: actions.do_set_read_horizon(conn, scope, key, index, advance=advance))
    return {"participant": render.participant(row)}


async def _update_user(c: Connection, p: Params) -> Any:
    identity = p.text("identity") or c.grant.identity
    fields = UserFields(friendly_name=p.text("friendly_name"), attributes=p.attributes(MAX_ATTRIBUTES))
    if fields.friendly_name is None and fields.attributes is None:
        raise InvalidParameter("Nothing to update: give friendly_name or attributes")
    await c.read(actions.authorize_update_user, identity)
    fields = await pre.user_update(c.call, identity, fields)
    return {"user": render.user(await c.write(actions.do_sdk_update_user, identity, fields))}


async def _register_push(c: Connection, p: Params) -> Any:
    binding_type = p.text("binding_type", required=True) or ""
    if binding_type not in actions.PUSH_TYPES:
        raise InvalidParameter(f"Invalid binding_type: one of {', '.join(actions.PUSH_TYPES)}")
    address = p.text("address", required=True, max_len=400) or ""
    credential = p.sid("credential_sid", "CR") or ""
    row = await c.write(actions.do_register_push, binding_type, address, credential)
    return {"binding": {"sid": row["sid"], "binding_type": row["binding_type"], "endpoint": row["endpoint"],
                        "credential_sid": row["credential_sid"], "identity": row["identity"]}}


async def _unregister_push(c: Connection, p: Params) -> Any:
    binding_type = p.text("binding_type", required=True) or ""
    if binding_type not in actions.PUSH_TYPES:
        raise InvalidParameter(f"Invalid binding_type: one of {', '.join(actions.PUSH_TYPES)}")
    await c.write(actions.do_unregister_push, binding_type, p.text("address", required=True, max_len=400) or "")
    return {}


ACTIONS: dict[str, Handler] = {
    "register_push": _register_push,
    "unregister_push": _unregister_push,
    "list_conversations": _list_conversations,
    "get_messages": _get_messages,
    "get_participants": _get_participants,
    "send_message": _send_message,
    "update_message": _update_message,
    "delete_message": _delete_message,
    "create_conversation": _create_conversation,
    "update_conversation": _update_conversation,
    "delete_conversation": _delete_conversation,
    "join": _join,
    "leave": _leave,
    "add_participant": _add_participant,
    "remove_participant": _remove_participant,
    "set_read": lambda c, p: _set_read(c, p, advance=False),
    "advance_read": lambda c, p: _set_read(c, p, advance=True),
    "update_user": _update_user,
}


# -- the connection ------------------------------------------------------------------------------------

async def authenticate(db: Any, token: Any) -> tokens.AccessGrant:
    if not isinstance(token, str) or len(token) > 8192:
        raise tokens.token_error(errors.TOKEN_INVALID, "Invalid Access Token")
    issuer = tokens.unverified_issuer(token)
    key = await db.read(lambda conn: actions.api_key(conn, issuer))
    return tokens.verify(token, key)


def _parse(text: str | None) -> dict[str, Any]:
    if text is None or len(text) > MAX_FRAME:
        raise InvalidParameter(f"Frames must be JSON text of at most {MAX_FRAME} bytes")
    try:
        frame = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise InvalidParameter("Frames must be JSON objects") from None
    if not isinstance(frame, dict):
        raise InvalidParameter("Frames must be JSON objects")
    return frame


class RealtimeEndpoint:
    """The ASGI endpoint of `/v1/Realtime`. A plain ASGI callable rather than a function so that it gets
    the server's own `receive` callable, which is how output.py finds the connection's transport."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        ws = WebSocket(scope, receive, send)
        await realtime(ws, receive)


async def realtime(ws: WebSocket, raw_receive: Any = None) -> None:
    await ws.accept()
    hub: Hub = ws.app.state.realtime
    db = ws.app.state.hubbub.db
    try:
        hello = _parse(await asyncio.wait_for(_receive_text(ws), CONNECT_TIMEOUT))
        if hello.get("type") != "connect" or hello.get("v") != PROTOCOL_VERSION:
            raise InvalidParameter(f"The first frame must be {{\"type\": \"connect\", \"v\": {PROTOCOL_VERSION}, …}}")
        resume_from = hello.get("resume_from")
        if resume_from is not None and (not isinstance(resume_from, int) or isinstance(resume_from, bool)
                                        or resume_from < 0):
            raise InvalidParameter("Invalid resume_from: must be a stream position (a non-negative integer)")
        grant = await authenticate(db, hello.get("token"))
        scope = Scope(grant.account_sid, grant.service_sid, "SDK", False, grant.identity)
        user, members, known_at = await db.write(lambda conn: actions.do_start_session(conn, scope))
    except (TimeoutError, WebSocketDisconnect):
        await _close_quietly(ws, CLOSE_PROTOCOL)
        return
    except TwilioError as exc:
        await ws.send_text(error_frame(exc).text)
        await _close_quietly(ws, CLOSE_TOKEN_EXPIRED if exc.status == 401 else CLOSE_PROTOCOL)
        return
    output = output_for(ws, raw_receive, direct=DIRECT_WRITES)
    session = Session(grant.account_sid, grant.service_sid, grant.identity, output)
    conn = Connection(ws, hub, db, grant, session)
    session.send(OutFrame.of({"type": "connected", "v": PROTOCOL_VERSION, "identity": grant.identity,
                              "service_sid": grant.service_sid, "account_sid": grant.account_sid,
                              "user": render.user(user), "token_expires": grant.expires}))
    try:
        try:
            position = await hub.attach(session, members, known_at, resume_from,
                                        lambda after, until: db.read(
                                            lambda c: actions.events_after(c, after, MAX_REPLAY + 1, until)))
        except TwilioError as exc:
            session.send(error_frame(exc))
            session.close(CLOSE_PROTOCOL)
            return
        session.send(OutFrame.of({"type": "synced", "pos": position}))
        conn.schedule_expiry()
        if len(hub.by_user.get(session.user_key, ())) == 1:  # the user's first connection: online
            await db.write(lambda c: actions.do_set_online(c, scope, True))
        await _read_loop(conn)
    except WebSocketDisconnect:
        pass
    finally:
        hub.detach(session)
        if conn.expiry is not None:
            conn.expiry.cancel()
        await output.finish()  # the close frame after what was sent, when the server ended the session
        if session.user_key not in hub.by_user:  # its last connection: offline
            try:
                await db.write(lambda c: actions.do_set_online(c, scope, False))
            except Exception:  # noqa: BLE001 - shutting down
                log.warning("realtime: could not record %s offline", grant.identity)


async def _read_loop(conn: Connection) -> None:
    """Client frames, one at a time, until the client disconnects or the server ends the session
    (`session.close`: token expired, too slow)."""
    ws, session = conn.ws, conn.session
    finished: asyncio.Future[Any] = session.output.finished
    while not finished.done():
        receive: asyncio.Future[Any] = asyncio.ensure_future(_receive_text(ws))
        done, _ = await asyncio.wait({receive, finished}, return_when=asyncio.FIRST_COMPLETED)
        if receive not in done:
            receive.cancel()
            await asyncio.gather(receive, return_exceptions=True)
            return
        text = receive.result()
        request_id = None
        try:
            frame = _parse(text)
            request_id = frame.get("id")
            kind = frame.get("type")
            if kind == "request":
                handler = ACTIONS.get(frame.get("action"))  # type: ignore[arg-type]
                if handler is None:
                    raise InvalidParameter(f"Unknown action {str(frame.get('action'))[:64]!r}")
                result = await handler(conn, Params(frame.get("params")))
                session.send(OutFrame.of({"type": "reply", "id": request_id, "result": result}))
            elif kind == "typing":
                conn.hub.typing_signal(session, Params(frame).key("conversation"))
            elif kind == "update_token":
                grant = await authenticate(conn.db, frame.get("token"))
                if (grant.account_sid, grant.service_sid, grant.identity) != (
                        conn.grant.account_sid, conn.grant.service_sid, conn.grant.identity):
                    raise tokens.token_error(errors.TOKEN_INVALID_GRANTS,
                                             "A refreshed token must be for the same identity and service")
                conn.grant = grant
                conn.schedule_expiry()
                session.send(OutFrame.of({"type": "token_updated", "id": request_id, "token_expires": grant.expires}))
            elif kind == "ping":
                session.send(OutFrame.of({"type": "pong", "id": request_id}))
            else:
                raise InvalidParameter(f"Unknown frame type {str(kind)[:64]!r}")
        except TwilioError as exc:
            session.send(error_frame(exc, request_id))
        except Exception:
            log.exception("realtime: unhandled error")
            session.send(error_frame(TwilioError("Internal server error", code=20500, status=500), request_id))


async def _receive_text(ws: WebSocket) -> str | None:
    message = await ws.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000))
    return message.get("text")


async def _close_quietly(ws: WebSocket, code: int) -> None:
    try:
        await ws.close(code)
    except Exception:  # noqa: BLE001 - already gone
        pass


# -- the JavaScript SDK and the web chat page -----------------------------------------------------------

STATIC = Path(__file__).resolve().parent / "static"
_FILES = {"/sdk/hubbub-chat.js": ("hubbub-chat.js", "text/javascript; charset=utf-8"),
          "/sdk/hubbub-chat.d.ts": ("hubbub-chat.d.ts", "application/typescript; charset=utf-8"),
          "/chat": ("chat.html", "text/html; charset=utf-8")}


async def static_file(request: Request) -> Response:
    name, media_type = _FILES[request.url.path]
    return Response((STATIC / name).read_bytes(), media_type=media_type,
                    headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"})


routes = [WebSocketRoute("/v1/Realtime", RealtimeEndpoint()),
          *(Route(path, static_file, methods=["GET"]) for path in _FILES)]
