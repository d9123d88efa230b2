"""`hubbub smsc-sim`: a local SMSC for development, in pure Python (the SMPP library's server; no Node.js).

It accepts any system_id / password on a transceiver bind, prints every SMS it receives (reassembling
concatenated parts), answers each part with a delivery receipt, and sends inbound SMS ("a phone replies")
typed on standard input as `FROM TO TEXT…` or posted to `POST /inbound` (form fields From, To, Body).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import sys
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from hubbub.channels.sms.pdus import (
    TLV_MESSAGE_STATE,
    TLV_RECEIPTED_MESSAGE_ID,
    InboundPart,
    decode_text,
    from_e164,
    inbound_part,
)
from hubbub.channels.sms.smpp import InboundSm, SimServer, SimSession, SimSubmit, SimUnbound
from hubbub.domain.sms_encoding import split_for_sms

STATES = {"DELIVRD": 2, "EXPIRED": 3, "DELETED": 4, "UNDELIV": 5, "ACCEPTD": 6, "UNKNOWN": 7, "REJECTD": 8}


@dataclass
class Simulator:
    host: str = "127.0.0.1"
    port: int = 2775
    dlr: str | None = "DELIVRD"
    dlr_delay: float = 0.5
    quiet: bool = False
    sessions: dict[str, SimSession] = field(default_factory=dict)
    received: int = 0
    _ids: Any = field(default_factory=lambda: itertools.count(1))
    _parts: dict[tuple[str, str, int], dict[int, str]] = field(default_factory=dict)
    _refs: Any = field(default_factory=lambda: itertools.cycle(range(256)))

    def say(self, text: str) -> None:
        if not self.quiet:
            print(text, flush=True)

    async def run(self, ready: asyncio.Event | None = None) -> None:
        server = SimServer(self.host, self.port)
        await server.start()
        self.say(f"SMSC simulator listening on {self.host}:{self.port} (any system_id / password; transceiver)")
        if ready is not None:
            ready.set()
        try:
            while True:
                event = await server.next()
                if isinstance(event, SimSession):
                    self.sessions[event.session_id] = event
                    self.say(f"bound: {event.system_id} ({'can receive' if event.can_receive else 'transmit only'})")
                elif isinstance(event, SimUnbound):
                    self.sessions.pop(event.session_id, None)
                    self.say("unbound")
                else:
                    self._submitted(event)
        finally:
            await server.stop()

    def _submitted(self, sm: SimSubmit) -> None:
        message_id = f"sim{next(self._ids)}"
        sm.accept(message_id)
        self.received += 1
        part = _part_of(sm)
        if part.ref is None:
            self.say(f"SMS {part.source} -> {part.destination}: {decode_text(part.payload, part.data_coding)}")
        else:
            key = (part.source, part.destination, part.ref)
            parts = self._parts.setdefault(key, {})
            parts[part.seq] = decode_text(part.payload, part.data_coding)
            if len(parts) == part.total:
                del self._parts[key]
                text = "".join(parts[i] for i in sorted(parts))
                self.say(f"SMS {part.source} -> {part.destination} ({part.total} parts): {text}")
        if self.dlr and sm.registered_delivery & 0x01:
            session = self.sessions.get(sm.session_id)
            if session is not None and session.can_receive:
                asyncio.get_running_loop().call_later(self.dlr_delay, self._receipt, session, sm.source,
                                                      sm.destination, message_id)

    def _receipt(self, session: SimSession, destination: str, source: str, message_id: str) -> None:
        # a timer and the library's future, no task per receipt: receipts are most of the simulator's CPU
        if self.sessions.get(session.session_id) is not session:
            return  # unbound meanwhile
        stat = self.dlr or "DELIVRD"
        text = (f"id:{message_id} sub:001 dlvrd:{'001' if stat == 'DELIVRD' else '000'} submit date:2601010000 "
                f"done date:2601010000 stat:{stat} err:000 text:").encode("latin-1")
        try:
            pending = session.start_deliver(destination, text, source=source, esm_class=0x04,
                                            tlvs={TLV_RECEIPTED_MESSAGE_ID: message_id.encode() + b"\x00",
                                                  TLV_MESSAGE_STATE: bytes([STATES.get(stat, 7)])})
        except Exception:  # noqa: BLE001 - the session is going away
            return
        if pending is not None:
            pending.add_done_callback(_ignore_answer)

    async def send_inbound(self, source: str, destination: str, body: str) -> int:
        """Deliver a mobile-originated SMS to a bound receiver; returns the number of parts sent."""
        receivers = [s for s in self.sessions.values() if s.can_receive]
        if not receivers:
            raise RuntimeError("no ESME is bound to receive (is Hubbub running with HUBBUB_SMS_CONFIG?)")
        parts = split_for_sms(body, smart_encoding=False, ref=next(self._refs))
        src, src_ton, _ = from_e164(source)
        dest, _, _ = from_e164(destination)
        for part in parts:
            await receivers[0].deliver(dest, part.udh + part.payload, source=src, source_ton=src_ton,
                                       esm_class=0x40 if part.udh else 0, data_coding=part.data_coding)
        self.say(f"sent inbound {source} -> {destination}: {body}")
        return len(parts)


def _ignore_answer(future: asyncio.Future[Any]) -> None:
    """A receipt the ESME refused or never answered is not sent again (nor logged as never retrieved)."""
    if not future.cancelled():
        future.exception()


def _part_of(sm: SimSubmit) -> InboundPart:
    return inbound_part(InboundSm(sm.source, 1, sm.destination, 1, sm.esm_class, sm.data_coding,
                                  sm.short_message, sm.tlvs))


async def _stdin_lines(sim: Simulator) -> None:
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            return
        fields = line.strip().split(maxsplit=2)
        if not fields:
            continue
        if len(fields) < 3:
            print("usage: FROM TO TEXT   e.g. +15551234567 +15005550006 Hello there", flush=True)
            continue
        try:
            await sim.send_inbound(*fields)
        except RuntimeError as exc:
            print(exc, flush=True)


def _http_app(sim: Simulator) -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def inbound(request: Request) -> JSONResponse:
        form = {k: v[-1] for k, v in parse_qs((await request.body()).decode("utf-8", "replace")).items()}
        source, destination, body = form.get("From"), form.get("To"), form.get("Body")
        if not source or not destination or body is None:
            return JSONResponse({"error": "From, To and Body are required"}, status_code=400)
        try:
            parts = await sim.send_inbound(source, destination, body)
        except RuntimeError as exc:
            return JSONResponse({"error": str(exc)}, status_code=409)
        return JSONResponse({"from": source, "to": destination, "parts": parts}, status_code=201)

    return Starlette(routes=[Route("/inbound", inbound, methods=["POST"])])


async def _main(args: argparse.Namespace) -> None:
    sim = Simulator(args.host, args.port, None if args.dlr == "none" else args.dlr, args.dlr_delay, args.quiet)
    tasks = [asyncio.create_task(sim.run())]
    if args.http_port:
        import uvicorn

        config = uvicorn.Config(_http_app(sim), host=args.host, port=args.http_port, log_level="warning")
        tasks.append(asyncio.create_task(uvicorn.Server(config).serve()))
        sim.say(f"send an inbound SMS: curl -d From=+15551234567 -d To=+15005550006 -d Body=Hi "
                f"http://{args.host}:{args.http_port}/inbound")
    if not args.no_stdin:
        sim.say("or type: FROM TO TEXT")
        tasks.append(asyncio.create_task(_stdin_lines(sim)))
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hubbub smsc-sim", description="A local SMSC for trying the SMS channel")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2775, help="SMPP port (default 2775)")
    parser.add_argument("--http-port", type=int, default=2776, help="HTTP port for POST /inbound (0: none)")
    parser.add_argument("--dlr", default="DELIVRD", choices=[*STATES, "none"],
                        help="delivery receipt state to answer each SMS with (default DELIVRD)")
    parser.add_argument("--dlr-delay", type=float, default=0.5, help="seconds before the receipt (default 0.5)")
    parser.add_argument("--quiet", action="store_true", help="print nothing per SMS")
    parser.add_argument("--no-stdin", action="store_true", help="do not read inbound SMS from standard input")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
