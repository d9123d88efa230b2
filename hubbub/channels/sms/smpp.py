"""The SMPP adapter: the only module that imports the SMPP library (`smpp34`, see
shared/reference/smpp-notes.md). The rest of Hubbub sees `SmppLink` (an ESME connection that binds,
re-binds after any loss with backoff, bounds in-flight submits to the window and reports inbound
deliver_sm) and, for `hubbub smsc-sim`, `SimServer` (a local SMSC), both with plain dataclasses.

What the library does not do and this module adds (smpp-notes.md, "Recommendation"): a reconnect loop
with a new client per bind, a semaphore window (E6), a 254-octet check with message_payload for longer
data (E7), explicit TON/NPI, the clean-shutdown pause (E8), and "bind timed out" reported as a possible
authentication failure (E9). enquire_link runs inside the library every 30 s (not tunable from Python).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import smpp34

from hubbub.channels.sms.config import Connection

log = logging.getLogger("hubbub.sms.smpp")

ESME_ROK = 0x00
ESME_RMSGQFUL = 0x14
ESME_RTHROTTLED = 0x58
ESME_RSYSERR = 0x08
RETRY_LATER = frozenset({ESME_RMSGQFUL, ESME_RTHROTTLED, ESME_RSYSERR})
TLV_MESSAGE_PAYLOAD = 0x0424
MAX_SHORT_MESSAGE = 254
SUBMIT_TIMEOUT = 40.0  # the library answers its own response timeout (30 s) first
CLOSE_PAUSE = 0.2  # E8: let the library's threads finish before the event loop closes


@dataclass(frozen=True, slots=True)
class OutboundSm:
    source: str
    destination: str
    short_message: bytes
    data_coding: int = 0
    esm_class: int = 0
    registered_delivery: int = 1
    source_ton: int = 1
    source_npi: int = 1
    dest_ton: int = 1
    dest_npi: int = 1
    validity_period: str = ""


@dataclass(frozen=True, slots=True)
class InboundSm:
    source: str
    source_ton: int
    destination: str
    dest_ton: int
    esm_class: int
    data_coding: int
    short_message: bytes
    tlvs: dict[int, bytes] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SubmitOutcome:
    kind: str  # "accepted" | "retry" (SMSC busy) | "rejected" (final) | "unanswered" (no response)
    message_id: str | None = None
    command_status: int = 0


def _tlvs(values: dict[int, bytes]) -> list[smpp34.Tlv]:
    return [smpp34.Tlv(tag, value) for tag, value in values.items()]


def _submit_fields(sm: OutboundSm) -> tuple[bytes, dict[str, object]]:
    fields: dict[str, object] = dict(
        source_addr=sm.source, source_addr_ton=sm.source_ton, source_addr_npi=sm.source_npi,
        dest_addr_ton=sm.dest_ton, dest_addr_npi=sm.dest_npi, esm_class=sm.esm_class,
        data_coding=sm.data_coding, registered_delivery=sm.registered_delivery)
    if sm.validity_period:
        fields["validity_period"] = sm.validity_period
    data = sm.short_message
    if len(data) > MAX_SHORT_MESSAGE:  # E7: the library panics on a longer short_message
        fields["tlvs"] = [smpp34.Tlv(TLV_MESSAGE_PAYLOAD, data)]
        data = b""
    return data, fields


class SmppLink:
    """One ESME connection to an SMSC: a transceiver bind, or a transmitter and a receiver bind."""

    def __init__(self, config: Connection, on_inbound: Callable[[InboundSm], None]) -> None:
        self.config = config
        self._on_inbound = on_inbound
        self._window = asyncio.Semaphore(config.window)
        self._clients: list[smpp34.Client] = []
        self._tx: smpp34.Smsc | None = None
        self.connected = asyncio.Event()
        self.binds = 0
        self._closing = False
        self.last_error: str | None = None

    # -- connection ----------------------------------------------------------------------------------
    async def run(self) -> None:
        """Bind, serve until the session drops, re-bind with backoff; until `close()`."""
        backoff = 0.5
        while not self._closing:
            try:
                receivers = await self._bind()
            except Exception as exc:  # noqa: BLE001 - SmppError, OSError, RuntimeError from the library
                self.last_error = _describe_bind_error(exc)
                log.warning("SMPP %s: bind to %s:%d failed: %s; retrying in %.1f s", self.config.name,
                            self.config.host, self.config.port, self.last_error, backoff)
                await self._release()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            self.binds += 1
            self.last_error = None
            log.info("SMPP %s: bound to %s:%d (%s)", self.config.name, self.config.host, self.config.port,
                     self.config.bind)
            self.connected.set()
            started = asyncio.get_running_loop().time()
            tasks = [asyncio.create_task(self._read(smsc)) for smsc in receivers]
            tasks.append(asyncio.create_task(self._watch()))
            try:
                await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            finally:
                self.connected.clear()
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                await self._release()
            if not self._closing:
                # a session that lasted restarts the backoff; one that keeps dropping at once does not
                lasted = asyncio.get_running_loop().time() - started
                backoff = 0.5 if lasted > 10 else min(backoff * 2, 30.0)
                log.warning("SMPP %s: connection lost after %.0f s; re-binding in %.1f s", self.config.name,
                            lasted, backoff)
                await asyncio.sleep(backoff)

    async def _bind(self) -> list[smpp34.Smsc]:
        c = self.config
        kinds = ["TRX"] if c.bind == "transceiver" else ["TX", "RX"]
        sessions: list[smpp34.Smsc] = []
        for kind in kinds:
            client = smpp34.Client(c.host, c.port, c.system_id, c.password, bind_type=kind,
                                   system_type=c.system_type, tls=c.tls, window_size=c.window,
                                   connect_timeout_ms=int(c.connect_timeout * 1000))
            self._clients.append(client)
            sessions.append(await client.connect())
        self._tx = sessions[0]
        return sessions

    async def _read(self, smsc: smpp34.Smsc) -> None:
        while True:
            event = await smsc.next()
            if isinstance(event, smpp34.Disconnected):
                return
            tlvs = {t.tag: bytes(t.value) for t in event.tlvs}
            try:
                self._on_inbound(InboundSm(
                    source=event.source_addr, source_ton=event.source_addr_ton,
                    destination=event.destination_addr, dest_ton=event.dest_addr_ton,
                    esm_class=event.esm_class, data_coding=event.data_coding,
                    short_message=bytes(event.short_message), tlvs=tlvs))
            except Exception:
                log.exception("SMPP %s: inbound handler failed", self.config.name)

    async def _watch(self) -> None:
        """Ends when any client reports its session dead (covers a TX bind whose reader sees nothing)."""
        while True:
            await asyncio.sleep(2.0)
            for client in list(self._clients):
                if not await client.is_alive():
                    return

    async def _release(self) -> None:
        self._tx = None
        clients, self._clients = self._clients, []
        for client in clients:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(5):
                    await client.stop()

    async def close(self) -> None:
        self._closing = True
        tx = self._tx
        if tx is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2):
                    await tx.unbind()
        await self._release()
        await asyncio.sleep(CLOSE_PAUSE)

    # -- traffic -------------------------------------------------------------------------------------
    async def submit(self, sm: OutboundSm) -> SubmitOutcome:
        async with self._window:
            smsc = self._tx
            if smsc is None or not self.connected.is_set():
                return SubmitOutcome("unanswered")
            data, fields = _submit_fields(sm)
            try:
                async with asyncio.timeout(SUBMIT_TIMEOUT):
                    resp = await smsc.submit_sm(sm.destination, data, **fields)
            except (smpp34.SmppError, RuntimeError, OSError, TimeoutError) as exc:
                log.debug("SMPP %s: submit_sm got no answer: %s", self.config.name, exc)
                return SubmitOutcome("unanswered")
        if resp.is_success:
            return SubmitOutcome("accepted", resp.message_id or "", 0)
        status = int(resp.command_status)
        if status in RETRY_LATER:
            return SubmitOutcome("retry", None, status)
        return SubmitOutcome("rejected", None, status)


def _describe_bind_error(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    if "bind timed out" in text:  # E9: the library reports a rejected bind as a timeout
        return text + " (the SMSC may have refused the system_id / password)"
    return text


# -- a local SMSC, for `hubbub smsc-sim` and the benchmark ------------------------------------------------
@dataclass(slots=True)
class SimSubmit:
    session_id: str
    source: str
    destination: str
    esm_class: int
    data_coding: int
    registered_delivery: int
    short_message: bytes
    tlvs: dict[int, bytes]
    _event: object

    def accept(self, message_id: str) -> None:
        self._event.accept(message_id)  # type: ignore[attr-defined]

    def reject(self, status: int) -> None:
        self._event.reject(status)  # type: ignore[attr-defined]


@dataclass(slots=True)
class SimSession:
    session_id: str
    system_id: str
    can_receive: bool
    _esme: object

    async def deliver(self, destination: str, short_message: bytes, *, source: str, esm_class: int = 0,
                      data_coding: int = 0, source_ton: int = 1, tlvs: dict[int, bytes] | None = None) -> bool:
        if not self.can_receive:  # E7: deliver_sm on a TX bind panics in the library
            return False
        resp = await self._esme.deliver_sm(  # type: ignore[attr-defined]
            destination, short_message, source_addr=source, source_addr_ton=source_ton, source_addr_npi=1,
            dest_addr_ton=1, dest_addr_npi=1, esm_class=esm_class, data_coding=data_coding,
            tlvs=_tlvs(tlvs or {}))
        return bool(resp.is_success)


@dataclass(slots=True)
class SimUnbound:
    session_id: str


class SimServer:
    """A local SMSC. Use transceiver binds only (E1); submit events may come out of wire order (E5)."""

    def __init__(self, host: str, port: int, system_id: str = "HUBBUBSIM") -> None:
        self._server = smpp34.Server(host, port, system_id=system_id, inbound_capacity=8192)

    async def start(self) -> None:
        await self._server.start()

    async def next(self) -> SimSession | SimSubmit | SimUnbound:
        event = await self._server.next()
        if isinstance(event, smpp34.SubmitSmEvent):
            return SimSubmit(event.session_id, event.source_addr, event.destination_addr, event.esm_class,
                             event.data_coding, event.registered_delivery, bytes(event.short_message),
                             {t.tag: bytes(t.value) for t in event.tlvs}, event)
        if isinstance(event, smpp34.Esme):
            return SimSession(event.session_id, event.system_id, event.can_receive, event)
        return SimUnbound(event.session_id)

    async def stop(self) -> None:
        await self._server.stop()
        await asyncio.sleep(CLOSE_PAUSE)


async def bare_submit_benchmark(host: str, port: int, seconds: float, window: int) -> int:
    """The ceiling for bench/bench_smpp.py: submit_sm straight through the library, `window` in flight."""
    client = smpp34.Client(host, port, "bench", "secret", bind_type="TRX", window_size=window)
    smsc = await client.connect()
    count = 0
    deadline = asyncio.get_running_loop().time() + seconds

    async def worker() -> None:
        nonlocal count
        loop = asyncio.get_running_loop()
        while loop.time() < deadline:
            resp = await smsc.submit_sm("15551230000", b"Hello from the benchmark", source_addr="15005550006",
                                        source_addr_ton=1, source_addr_npi=1, dest_addr_ton=1, dest_addr_npi=1,
                                        registered_delivery=1)
            if resp.is_success:
                count += 1

    await asyncio.gather(*(worker() for _ in range(window)))
    with contextlib.suppress(Exception):
        async with asyncio.timeout(2):
            await smsc.unbind()
    await client.stop()
    await asyncio.sleep(CLOSE_PAUSE)
    return count
