"""The same-run baseline of bench_realtime.py: a bare Starlette WebSocket broadcast, no database.

    uvicorn bench.bare_broadcast_app:app --ws websockets-sansio --ws-per-message-deflate false

Clients connect to `/v1/Realtime`, send any first frame and get `{"type": "synced"}`. `POST /post` with a
form `Body=<n>` encodes one event frame shaped like Hubbub's `messageAdded` (same fields, similar size),
sends it to every connected client with Starlette's `WebSocket.send_text` (one await per client, the way
a minimal broadcast is written), then answers 201. This is the floor a Starlette + uvicorn server can
reach on this machine: the latency Hubbub adds on top of it is the outbox (commit, read-back, render) and
its own fan-out.
"""

from __future__ import annotations

import time
from urllib.parse import parse_qs

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

CONVERSATION = "CH" + "0" * 32
clients: set[WebSocket] = set()
counter = {"pos": 0}


async def realtime(ws: WebSocket) -> None:
    await ws.accept()
    try:
        await ws.receive_text()
        await ws.send_text('{"type":"synced","pos":0}')
        clients.add(ws)
        while True:
            await ws.receive_text()
    except WebSocketDisconnect:
        pass
    finally:
        clients.discard(ws)


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


async def post(request: Request) -> Response:
    form = parse_qs((await request.body()).decode())
    counter["pos"] += 1
    n = counter["pos"]
    now = _iso(time.time())
    message = {"sid": f"IM{n:032x}", "conversation_sid": CONVERSATION, "index": n - 1,
               "author": "system", "body": form.get("Body", [""])[0], "attributes": "{}", "participant_sid": None,
               "media": None, "date_created": now, "date_updated": now}
    frame = orjson.dumps({"type": "event", "pos": n, "event": "messageAdded", "conversation_sid": CONVERSATION,
                          "source": "API", "client_identity": None, "data": {"message": message}}).decode()
    for ws in list(clients):
        try:
            await ws.send_text(frame)
        except Exception:  # noqa: BLE001 - a client that went away
            clients.discard(ws)
    return Response(orjson.dumps(message), status_code=201, media_type="application/json")


async def health(request: Request) -> Response:
    return Response("ok")


app = Starlette(routes=[Route("/post", post, methods=["POST"]), Route("/health", health),
                        WebSocketRoute("/v1/Realtime", realtime)])
