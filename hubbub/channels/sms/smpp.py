"""The SMPP adapter: the only module that imports the SMPP library (`smpp34`, see
shared/reference/smpp-notes.md). The rest of Hubbub sees `SmppLink` (an ESME connection that binds,
re-binds after any loss with backoff, bounds in-flight submits to the window, watches the link with its own
`enquire_link` and reports inbound deliver_sm with a `Delivery` to acknowledge once stored) and, for
`hubbub smsc-sim`, `SimServer` (a local SMSC), both with plain dataclasses.

What the library does not do and this module adds (smpp-notes.md, "Recommendation"): a reconnect loop
with a new client per bind, a semaphore window (E6), a 254-octet check with message_payload for longer
data (E7), explicit TON/NPI, the clean-shutdown pause (E8), and a refused bind reported as such (E9).

## Why a relay sits between the library and the SMSC

smpp34 1.5.0's public surface cannot do four things this channel needs:

1. it answers every inbound deliver_sm with deliver_sm_resp *itself*, as soon as its Rust core decodes the
   PDU (`DeliverSmEvent`: "the SMPP-level ACK is sent automatically by the core"), so a process killed before
   Hubbub commits the SMS loses it — the SMSC was told it was delivered;
2. its enquire_link interval and response timeout are fixed (30 s each, not settable from Python);
3. its `tls=True` takes no CA file, no verification switch and no client certificate;
4. a refused bind surfaces only as "bind timed out" (E9).

Switching to `aiosmpplib` (the fallback of smpp-notes.md) would fix 2, but the trial did not cover its TLS
or whether its hook API can hold back a deliver_sm_resp, and it measured ~2.4k submit_sm/s bare — about the
2,000/s this channel must reach *through* Hubbub. So the library keeps doing what it is good at — bind,
sequence numbers, submit_sm encoding, submit_sm_resp matching, its own keep-alive — and each bind runs
through `_Relay`, an in-process byte relay: the library connects in plain TCP to a one-shot listener on
127.0.0.1, and the relay holds the real connection to the SMSC (TCP, or TLS with Python's `ssl` and the
configured CA). It passes the PDUs through unchanged: the SMSC's stream is framed into whole PDUs by their
4-octet command_length; the library's is forwarded as it comes, without a copy, with only its PDU boundaries
followed so that the relay's own PDUs go in between two of the library's. Except:

- deliver_sm from the SMSC is decoded with the library's codec (`smpp34.decode`) and handed to Hubbub instead
  of the library; its deliver_sm_resp goes out only when Hubbub calls `Delivery.ack()` after the commit;
- the relay sends its own enquire_link every `enquire_link_interval` and drops the connection when an answer
  to it, or to the oldest submit_sm waiting, takes longer than `response_timeout` (a dead peer; the library
  then fails the submit_sm it waits for, so no timer runs per submit_sm), and uses the enquire_link round
  trip to learn that the SMSC has read the acknowledgements sent before it (`on_confirmed`, for inbound
  de-duplication);
- bind_*_resp is inspected for its command_status, so a refused bind is reported with the SMSC's status;
- a read that brought a deliver_sm has its TCP acknowledgement sent at once (Linux TCP_QUICKACK). Holding the
  deliver_sm_resp back for a commit leaves the kernel's delayed ACK waiting too, and an SMSC with Nagle's
  algorithm on (smpp34's server, so `hubbub smsc-sim`, sets no TCP_NODELAY) then holds every small PDU it
  writes after that deliver_sm — the submit_sm_resp the window waits for — until the commit's
  deliver_sm_resp carries the ACK: with a receipt for every SMS, submit_sm/s fell to a third.

The two PDUs the relay writes itself, deliver_sm_resp and enquire_link, are a 16-octet header (+ one NUL for
the empty message_id): the library's codec has no class for them (only submit_sm / deliver_sm encode). The
one-shot listener accepts a single connection and closes; whoever connected first to it would still have to
bind with the SMSC's credentials.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import smpp34

from hubbub.channels.sms.config import Connection

log = logging.getLogger("hubbub.sms.smpp")

ESME_ROK = 0x00
ESME_RMSGQFUL = 0x14
ESME_RTHROTTLED = 0x58
ESME_RSYSERR = 0x08
ESME_RX_T_APPN = 0x64  # "ESME receiver temporary app error": the SMSC retries the deliver_sm later
ESME_RX_P_APPN = 0x65  # permanent: the deliver_sm cannot be read
RETRY_LATER = frozenset({ESME_RMSGQFUL, ESME_RTHROTTLED, ESME_RSYSERR})
TLV_MESSAGE_PAYLOAD = 0x0424
MAX_SHORT_MESSAGE = 254
CLOSE_PAUSE = 0.2  # E8: let the library's threads finish before the event loop closes

# SMPP 3.4 command ids the relay looks at (§5.1.2.1).
BIND_RESPS = {0x80000001: "bind_receiver", 0x80000002: "bind_transmitter", 0x80000009: "bind_transceiver"}
DELIVER_SM = 0x00000005
DELIVER_SM_RESP = 0x80000005
ENQUIRE_LINK = 0x00000015
ENQUIRE_LINK_RESP = 0x80000015
MAX_PDU = 64 * 1024  # a longer command_length is a broken stream, not a PDU
TCP_QUICKACK = getattr(socket, "TCP_QUICKACK", None)  # Linux only
PROBE_SEQUENCE = 0x7FFF0000  # the relay's own enquire_link numbers; the library counts up from 1
CONFIRM_DELAY = 0.2  # acknowledgements are confirmed by an enquire_link round trip this long after them
_HEADER = struct.Struct(">IIII")
_PREFIX = struct.Struct(">II")
_LENGTH = struct.Struct(">I")
COMMAND_STATUS_NAMES = {0x0D: "ESME_RBINDFAIL", 0x0E: "ESME_RINVPASWD", 0x0F: "ESME_RINVSYSID",
                        0x05: "ESME_RALYBND", 0x53: "ESME_RINVSYSTYP", 0x08: "ESME_RSYSERR"}


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


class Delivery:
    """One inbound deliver_sm waiting for Hubbub: `ack()` once what it carries is committed (the SMSC gets its
    deliver_sm_resp then), `nack()` to have the SMSC try again later. `session` names the bind it came on."""

    __slots__ = ("_relay", "sequence", "session", "done")

    def __init__(self, relay: _Relay | None, sequence: int, session: str) -> None:
        self._relay = relay
        self.sequence = sequence
        self.session = session
        self.done = False

    def ack(self, token: Any = None) -> None:
        """Answer ESME_ROK. `token` comes back through the link's `on_confirmed` once an enquire_link round
        trip shows the SMSC has read this answer."""
        if not self.done and self._relay is not None:
            self.done = True
            self._relay.answer_deliver(self.sequence, ESME_ROK, token)

    def nack(self, status: int = ESME_RX_T_APPN) -> None:
        if not self.done and self._relay is not None:
            self.done = True
            self._relay.answer_deliver(self.sequence, status, None)


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


def tls_context(config: Connection) -> ssl.SSLContext:
    """The client TLS context of a connection: the system's CAs or `tls_ca`, optional client certificate."""
    context = ssl.create_default_context(cafile=config.tls_ca or None)
    if not config.tls_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if config.tls_cert:
        context.load_cert_chain(config.tls_cert, config.tls_key or None)
    return context


class LinkError(Exception):
    """Why a bind could not be made, in words for the log."""


class _Pipe(asyncio.Protocol):
    def __init__(self, relay: _Relay, upstream: bool) -> None:
        self.relay = relay
        self.upstream = upstream

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.relay.attach(self.upstream, transport)  # type: ignore[arg-type]

    def data_received(self, data: bytes) -> None:
        self.relay.received(self.upstream, data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.relay.lost(self.upstream, exc)


class _Relay:
    """The byte relay of one bind (see the module docstring)."""

    def __init__(self, config: Connection, kind: str, session: str,
                 on_deliver: Callable[[InboundSm, Delivery], None], on_confirmed: Callable[[list[Any]], None]) -> None:
        self.config = config
        self.kind = kind
        self.session = session
        self._on_deliver = on_deliver
        self._on_confirmed = on_confirmed
        self.up: asyncio.Transport | None = None
        self.down: asyncio.Transport | None = None
        self._up_buf = bytearray()
        self._held: list[bytes] = []  # from the SMSC before the library connected
        self._down_rest = 0  # octets of the library's current PDU still to come (0: between two PDUs)
        self._down_head = b""  # the first octets of a command_length that the last read split
        self._own: list[bytes] = []  # the relay's own PDUs, waiting for the library's PDU to end
        self._server: asyncio.base_events.Server | None = None
        self.closed = asyncio.Event()
        self.reason: str | None = None
        self.bind_status: int | None = None
        self._probe_seq = 0
        self._probes: dict[int, tuple[float, list[Any]]] = {}  # sequence → (sent at, tokens it confirms)
        self._unconfirmed: list[Any] = []
        self._first_unconfirmed = 0.0
        self._last_probe = time.monotonic()
        self._keepalive: asyncio.Task[None] | None = None
        self._submits: dict[int, float] = {}  # submit_sm waiting for their answer → sent at, oldest first
        self._submit_key = 0
        self._up_socket: Any = None  # for TCP_QUICKACK

    async def open(self) -> int:
        """Connect to the SMSC and listen for the library; the loopback port to give the library."""
        c = self.config
        loop = asyncio.get_running_loop()
        context = tls_context(c) if c.tls else None
        try:
            async with asyncio.timeout(c.connect_timeout):
                await loop.create_connection(lambda: _Pipe(self, True), c.host, c.port, ssl=context,
                                             server_hostname=(c.tls_server_name or c.host) if context else None)
        except ssl.SSLCertVerificationError as exc:
            raise LinkError(f"TLS certificate of {c.host}:{c.port} not trusted: {exc.verify_message} "
                            f"(check tls_ca{', tls_server_name' if c.tls_verify else ''})") from None
        except ssl.SSLError as exc:
            raise LinkError(f"TLS handshake with {c.host}:{c.port} failed: {exc.reason or exc}") from None
        except TimeoutError:
            raise LinkError(f"no connection to {c.host}:{c.port} within {c.connect_timeout:g} s") from None
        except OSError as exc:
            raise LinkError(f"TCP connect to {c.host}:{c.port}: {exc.strerror or exc}") from None
        self._server = await loop.create_server(lambda: _Pipe(self, False), "127.0.0.1", 0)
        self._keepalive = asyncio.create_task(self._watch())
        return int(self._server.sockets[0].getsockname()[1])

    # -- the two sides ----------------------------------------------------------------------------------
    def attach(self, upstream: bool, transport: asyncio.Transport) -> None:
        if upstream:
            self.up = transport
            if TCP_QUICKACK is not None:
                self._up_socket = transport.get_extra_info("socket")
            return
        if self.down is not None or self.closed.is_set():  # one-shot: a second caller is refused
            transport.close()
            return
        self.down = transport
        if self._server is not None:
            self._server.close()
        if self._held:
            transport.writelines(self._held)
            self._held.clear()

    def lost(self, upstream: bool, exc: Exception | None) -> None:
        if upstream and self.up is None or not upstream and self.down is None:
            return
        if not self.closed.is_set():
            self.close(("the SMSC closed the connection" if upstream else "the library closed the connection")
                       + (f" ({exc})" if exc else ""))

    def received(self, upstream: bool, data: bytes) -> None:
        if upstream:
            self._from_smsc(data)
        else:
            self._from_library(data)

    def _from_smsc(self, data: bytes) -> None:
        """Whole PDUs, passed on to the library except deliver_sm and the answers to the relay's enquire_link."""
        buf = self._up_buf
        if buf:
            buf += data
            view: bytes | bytearray = buf
        else:
            view = data  # the usual case: whole PDUs in one read, forwarded without a copy
        size = len(view)
        pos = start = 0
        out: list[bytes] = []
        delivered = False
        while size - pos >= 16:
            length, command = _PREFIX.unpack_from(view, pos)
            if length < 16 or length > MAX_PDU:
                self.close(f"malformed PDU from the SMSC (command_length {length})")
                return
            if size - pos < length:
                break
            if command == DELIVER_SM or command == ENQUIRE_LINK_RESP or command in BIND_RESPS:
                _, _, status, sequence = _HEADER.unpack_from(view, pos)
                if command != ENQUIRE_LINK_RESP or sequence in self._probes:
                    if command in BIND_RESPS:
                        self.bind_status = status  # passed on to the library as well
                        self._last_probe = time.monotonic()
                    else:
                        if pos > start:
                            out.append(bytes(view[start:pos]))
                        start = pos + length
                        if command == DELIVER_SM:
                            delivered = True
                            self._deliver(bytes(view[pos:pos + length]), sequence)
                        else:
                            self._probe_answered(sequence)
            pos += length
        if delivered:
            self._ack_now()
        if pos > start:
            out.append(view if start == 0 and pos == size and view is data else bytes(view[start:pos]))
        if view is data:
            if pos < size:
                buf += data[pos:]
        else:
            del buf[:pos]
        if not out:
            return
        if self.down is None:
            self._held.extend(out)
        else:
            self.down.write(out[0] if len(out) == 1 else b"".join(out))

    def _ack_now(self) -> None:
        """Send the TCP ACK of what was read now, not with the deliver_sm_resp (see the module docstring)."""
        sock = self._up_socket
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, TCP_QUICKACK, 1)

    def _from_library(self, data: bytes) -> None:
        """Forwarded as it comes, without a copy; only the PDU boundaries are followed (by command_length), so
        that the relay's own PDUs go to the SMSC between two of the library's, never inside one."""
        up = self.up
        if up is None:
            return
        size = len(data)
        rest = self._down_rest
        if rest > size or rest == size and not self._own:  # all of it inside the current PDU
            self._down_rest = rest - size
            up.write(data)
            return
        head = self._down_head
        view = head + data if head else data
        shift = len(head)
        pos = rest  # where the next PDU starts, in `view`
        n = len(view)
        first = rest if rest else -1  # the first PDU end inside `data`
        while pos + 4 <= n:
            length = _LENGTH.unpack_from(view, pos)[0]
            if length < 16 or length > MAX_PDU:
                self.close(f"malformed PDU from the library (command_length {length})")
                return
            pos += length
            if first < 0 and pos <= n:
                first = pos - shift
        if pos >= n:
            self._down_rest, self._down_head = pos - n, b""
        else:  # fewer than 4 octets of the next command_length
            self._down_rest, self._down_head = 0, bytes(view[pos:])
        own = self._own
        if own and first >= 0:
            pending = b"".join(own)
            own.clear()
            up.writelines((data[:first], pending, data[first:]) if first < size else (data, pending))
        else:
            up.write(data)

    def _send_own(self, pdu: bytes) -> None:
        up = self.up
        if up is None or up.is_closing():
            return
        if self._down_rest or self._down_head:
            self._own.append(pdu)  # sent when the library's PDU in progress has gone through
        else:
            up.write(pdu)

    # -- inbound ---------------------------------------------------------------------------------------
    def _deliver(self, raw: bytes, sequence: int) -> None:
        try:
            pdu = smpp34.decode(raw)
            if not isinstance(pdu, smpp34.DeliverSm):
                raise ValueError(f"decoded as {type(pdu).__name__}")
        except (smpp34.SmppError, ValueError) as exc:
            log.warning("SMPP %s: unreadable deliver_sm %d from the SMSC (%s); answered ESME_RX_P_APPN",
                        self.config.name, sequence, exc)
            self.answer_deliver(sequence, ESME_RX_P_APPN, None)
            return
        sm = InboundSm(source=pdu.source_addr, source_ton=pdu.source_addr_ton, destination=pdu.destination_addr,
                       dest_ton=pdu.dest_addr_ton, esm_class=pdu.esm_class, data_coding=pdu.data_coding,
                       short_message=bytes(pdu.short_message), tlvs={t.tag: bytes(t.value) for t in pdu.tlvs})
        try:
            self._on_deliver(sm, Delivery(self, sequence, self.session))
        except Exception:
            log.exception("SMPP %s: inbound handler failed", self.config.name)
            self.answer_deliver(sequence, ESME_RX_T_APPN, None)

    def answer_deliver(self, sequence: int, status: int, token: Any) -> None:
        up = self.up
        if up is None or self.closed.is_set() or up.is_closing():
            return  # the session is gone: the SMSC delivers it again on the next bind
        # deliver_sm_resp: header and an empty message_id (the library has no encoder for it, see above)
        self._send_own(_HEADER.pack(17, DELIVER_SM_RESP, status, sequence) + b"\x00")
        if token is not None:
            if not self._unconfirmed:
                self._first_unconfirmed = time.monotonic()
            self._unconfirmed.append(token)

    # -- keep-alive, submit_sm deadlines and confirmations ---------------------------------------------------
    def submit_started(self) -> int:
        self._submit_key += 1
        self._submits[self._submit_key] = time.monotonic()
        return self._submit_key

    def submit_done(self, key: int) -> None:
        del self._submits[key]

    def _probe(self) -> None:
        up = self.up
        if up is None or up.is_closing():
            return
        self._probe_seq = (self._probe_seq + 1) % 0xFFFF
        sequence = PROBE_SEQUENCE + self._probe_seq
        now = time.monotonic()
        self._probes[sequence] = (now, self._unconfirmed)
        self._unconfirmed = []
        self._last_probe = now
        self._send_own(_HEADER.pack(16, ENQUIRE_LINK, 0, sequence))  # enquire_link: a bare header

    def _probe_answered(self, sequence: int) -> None:
        _, tokens = self._probes.pop(sequence)
        if tokens:
            try:
                self._on_confirmed(tokens)
            except Exception:
                log.exception("SMPP %s: confirmation handler failed", self.config.name)

    async def _watch(self) -> None:
        c = self.config
        tick = max(0.05, min(0.25, c.enquire_link_interval / 4, c.response_timeout / 4))
        while not self.closed.is_set():
            await asyncio.sleep(tick)
            if self.down is None or self.bind_status != 0:
                continue  # not bound yet: the library's own bind timeout applies
            now = time.monotonic()
            if self._probes and now - min(sent for sent, _ in self._probes.values()) > c.response_timeout:
                self.close(f"no enquire_link_resp within {c.response_timeout:g} s: the link is dead")
                return
            if self._submits and now - next(iter(self._submits.values())) > c.response_timeout:
                self.close(f"no submit_sm_resp within {c.response_timeout:g} s")
                return
            if now - self._last_probe >= c.enquire_link_interval:
                self._probe()
            elif self._unconfirmed and not self._probes and now - self._first_unconfirmed >= CONFIRM_DELAY:
                self._probe()

    def close(self, reason: str | None = None) -> None:
        if not self.closed.is_set():
            self.reason = reason
            self.closed.set()
        if self._server is not None:
            self._server.close()
        for transport in (self.up, self.down):
            if transport is not None:
                transport.close()
        task = self._keepalive
        if task is not None and task is not asyncio.current_task():
            task.cancel()


async def _closed(relay: _Relay) -> None:
    await relay.closed.wait()


class SmppLink:
    """One ESME connection to an SMSC: a transceiver bind, or a transmitter and a receiver bind.

    `on_inbound(sm, delivery)` gets each deliver_sm (call `delivery.ack()` after storing it); `on_confirmed`
    gets the tokens of acknowledgements the SMSC is known to have read."""

    def __init__(self, config: Connection, on_inbound: Callable[[InboundSm, Delivery], None],
                 on_confirmed: Callable[[list[Any]], None] | None = None) -> None:
        self.config = config
        self._on_inbound = on_inbound
        self._on_confirmed = on_confirmed or (lambda tokens: None)
        self._window = asyncio.Semaphore(config.window)
        self._clients: list[smpp34.Client] = []
        self._relays: list[_Relay] = []
        self._tx: smpp34.Smsc | None = None
        self._tx_relay: _Relay | None = None
        self.connected = asyncio.Event()
        self.binds = 0
        self.bound_at = 0.0
        self.session = ""
        self._closing = False
        self.last_error: str | None = None

    # -- connection ----------------------------------------------------------------------------------
    async def run(self) -> None:
        """Bind, serve until the session drops, re-bind with backoff; until `close()`."""
        backoff = 0.5
        while not self._closing:
            try:
                receivers = await self._bind()
            except Exception as exc:  # noqa: BLE001 - LinkError, SmppError, OSError, RuntimeError
                self.last_error = self._describe_bind_error(exc)
                log.warning("SMPP %s: bind to %s:%d failed: %s; retrying in %.1f s", self.config.name,
                            self.config.host, self.config.port, self.last_error, backoff)
                await self._release()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            self.binds += 1
            self.last_error = None
            self.bound_at = time.time()
            log.info("SMPP %s: bound to %s:%d (%s%s)", self.config.name, self.config.host, self.config.port,
                     self.config.bind, ", TLS" if self.config.tls else "")
            self.connected.set()
            started = asyncio.get_running_loop().time()
            tasks = [asyncio.create_task(self._drain(smsc)) for smsc in receivers]
            tasks.append(asyncio.create_task(self._watch()))
            tasks.extend(asyncio.create_task(_closed(relay)) for relay in self._relays)
            try:
                await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            finally:
                self.connected.clear()
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                reason = next((r.reason for r in self._relays if r.reason), None)
                await self._release()
            if not self._closing:
                # a session that lasted restarts the backoff; one that keeps dropping at once does not
                lasted = asyncio.get_running_loop().time() - started
                backoff = 0.5 if lasted > 10 else min(backoff * 2, 30.0)
                log.warning("SMPP %s: connection lost after %.0f s%s; re-binding in %.1f s", self.config.name,
                            lasted, f" ({reason})" if reason else "", backoff)
                await asyncio.sleep(backoff)

    async def _bind(self) -> list[smpp34.Smsc]:
        c = self.config
        kinds = ["TRX"] if c.bind == "transceiver" else ["TX", "RX"]
        self.session = f"{time.time_ns():x}"  # names this bind in sms_inbound_seen
        sessions: list[smpp34.Smsc] = []
        for kind in kinds:
            relay = _Relay(c, kind, self.session, self._on_inbound, self._on_confirmed)
            self._relays.append(relay)
            port = await relay.open()
            client = smpp34.Client("127.0.0.1", port, c.system_id, c.password, bind_type=kind,
                                   system_type=c.system_type, window_size=c.window,
                                   connect_timeout_ms=int(c.connect_timeout * 1000))
            self._clients.append(client)
            try:
                sessions.append(await client.connect())
            except Exception as exc:
                status = relay.bind_status
                if status:  # E9: the library says "bind timed out"; the relay saw the SMSC's answer
                    name = COMMAND_STATUS_NAMES.get(status, "")
                    raise LinkError(f"the SMSC refused the {kind} bind of system_id {c.system_id!r}: "
                                    f"{name + ' ' if name else ''}({status:#04x})") from exc
                if relay.reason:
                    raise LinkError(relay.reason) from exc
                raise
        self._tx = sessions[0]
        self._tx_relay = self._relays[0]
        return sessions

    async def _drain(self, smsc: smpp34.Smsc) -> None:
        """The library sees no deliver_sm (the relay keeps them); this only waits for its end of session."""
        while True:
            event = await smsc.next()
            if isinstance(event, smpp34.Disconnected):
                return

    async def _watch(self) -> None:
        """Ends when any client reports its session dead (covers a TX bind whose reader sees nothing)."""
        while True:
            await asyncio.sleep(2.0)
            for client in list(self._clients):
                if not await client.is_alive():
                    return

    async def _release(self) -> None:
        self._tx = None
        self._tx_relay = None
        clients, self._clients = self._clients, []
        relays, self._relays = self._relays, []
        for client in clients:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(5):
                    await client.stop()
        for relay in relays:
            relay.close()

    async def close(self) -> None:
        self._closing = True
        tx = self._tx
        if tx is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2):
                    await tx.unbind()
        await self._release()
        await asyncio.sleep(CLOSE_PAUSE)

    def _describe_bind_error(self, exc: BaseException) -> str:
        text = str(exc) or type(exc).__name__
        if "bind timed out" in text:  # E9, when the relay saw no bind_resp either
            return text + " (the SMSC did not answer the bind)"
        return text

    # -- traffic -------------------------------------------------------------------------------------
    async def submit(self, sm: OutboundSm) -> SubmitOutcome:
        async with self._window:
            smsc, relay = self._tx, self._tx_relay
            if smsc is None or relay is None or not self.connected.is_set():
                return SubmitOutcome("unanswered")
            data, fields = _submit_fields(sm)
            # No timer per submit_sm: the relay closes the link when the oldest answer is overdue
            # (`response_timeout`), and the library then fails every submit_sm it still waits for.
            key = relay.submit_started()
            try:
                resp = await smsc.submit_sm(sm.destination, data, **fields)
            except (smpp34.SmppError, RuntimeError, OSError) as exc:
                log.debug("SMPP %s: submit_sm got no answer: %s", self.config.name, exc)
                return SubmitOutcome("unanswered")
            finally:
                relay.submit_done(key)
        if resp.is_success:
            return SubmitOutcome("accepted", resp.message_id or "", 0)
        status = int(resp.command_status)
        if status in RETRY_LATER:
            return SubmitOutcome("retry", None, status)
        return SubmitOutcome("rejected", None, status)


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

    def start_deliver(self, destination: str, short_message: bytes, *, source: str, esm_class: int = 0,
                      data_coding: int = 0, source_ton: int = 1, tlvs: dict[int, bytes] | None = None
                      ) -> asyncio.Future[Any] | None:
        """Send a deliver_sm; the future of its deliver_sm_resp (None on a transmit-only bind). No task of its
        own, so that the simulator's receipts cost little CPU."""
        if not self.can_receive:  # E7: deliver_sm on a TX bind panics in the library
            return None
        return self._esme.deliver_sm(  # type: ignore[attr-defined, no-any-return]
            destination, short_message, source_addr=source, source_addr_ton=source_ton, source_addr_npi=1,
            dest_addr_ton=1, dest_addr_npi=1, esm_class=esm_class, data_coding=data_coding,
            tlvs=_tlvs(tlvs or {}))

    async def deliver(self, destination: str, short_message: bytes, *, source: str, esm_class: int = 0,
                      data_coding: int = 0, source_ton: int = 1, tlvs: dict[int, bytes] | None = None) -> bool:
        pending = self.start_deliver(destination, short_message, source=source, esm_class=esm_class,
                                     data_coding=data_coding, source_ton=source_ton, tlvs=tlvs)
        if pending is None:
            return False
        return bool((await pending).is_success)


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
