"""The SMS channel's pure parts: configuration, opt-out keywords, addresses, delivery receipts and inbound
concatenation headers (no SMSC, no server)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterable
from pathlib import Path

import pytest

from hubbub.channels.sms.config import HELP_REPLY, STOP_REPLY, ConfigError, load, parse
from hubbub.channels.sms.pdus import (
    TLV_MESSAGE_STATE,
    TLV_NETWORK_ERROR_CODE,
    TLV_RECEIPTED_MESSAGE_ID,
    TLV_SAR_MSG_REF_NUM,
    TLV_SAR_SEGMENT_SEQNUM,
    TLV_SAR_TOTAL_SEGMENTS,
    fingerprint,
    from_e164,
    inbound_part,
    is_receipt,
    message_id_variants,
    parse_receipt,
    relative_validity,
    submit_for,
    to_e164,
)
from hubbub.channels.sms.smpp import InboundSm
from hubbub.channels.sms.worker import split_parts
from hubbub.domain.sms_encoding import split_for_sms

BASE = {"connections": [{"numbers": ["+1500555*", "+447700900123"], "host": "smsc.local", "system_id": "me"}]}


def _sm(data: bytes = b"", esm_class: int = 0, data_coding: int = 0, tlvs: dict[int, bytes] | None = None,
        source: str = "15551230000", destination: str = "15005550006") -> InboundSm:
    return InboundSm(source, 1, destination, 1, esm_class, data_coding, data, tlvs or {})


def test_config_defaults_and_number_ranges() -> None:
    config = parse(BASE)
    [conn] = config.connections
    assert (conn.port, conn.bind, conn.window, conn.submits_per_second, conn.tls) == (2775, "transceiver", 10, 0, False)
    assert config.expiry == 36_000
    assert config.connection_for("+15005550006") is conn
    assert config.connection_for("+447700900123") is conn
    assert config.connection_for("+447700900124") is None
    assert config.connection_for(None) is None
    assert (conn.enquire_link_interval, conn.response_timeout, conn.max_unrecorded) == (30, 10, 100)
    assert (conn.tls_ca, conn.tls_verify, conn.tls_server_name, conn.tls_cert) == (None, True, None, None)


def test_config_keep_alive_and_tls(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("not read until the connection is made")
    [conn] = parse({"connections": [{**BASE["connections"][0], "enquire_link_interval": 5, "response_timeout": 2,
                                     "tls": True, "tls_ca": str(ca), "tls_server_name": "smsc.example",
                                     "max_unrecorded": 20}]}).connections
    assert (conn.enquire_link_interval, conn.response_timeout, conn.max_unrecorded) == (5, 2, 20)
    assert (conn.tls, conn.tls_ca, conn.tls_server_name) == (True, str(ca), "smsc.example")


def test_config_exact_number_wins_over_a_range() -> None:
    config = parse({"connections": [
        {"name": "range", "numbers": ["+1500555*"], "host": "a", "system_id": "a"},
        {"name": "exact", "numbers": ["+15005550006"], "host": "b", "system_id": "b", "bind": "tx+rx"}]})
    assert config.connection_for("+15005550006").name == "exact"  # type: ignore[union-attr]
    assert config.connection_for("+15005550007").name == "range"  # type: ignore[union-attr]
    assert config.connections[1].bind == "transmitter+receiver"


def test_config_from_inline_json_toml_and_json_files(tmp_path: Path) -> None:
    assert load(None) is None and load("") is None
    assert load(json.dumps(BASE)).connections[0].host == "smsc.local"  # type: ignore[union-attr]
    toml = tmp_path / "sms.toml"
    toml.write_text('expiry_seconds = 60\nsmart_encoding_off_services = ["IS00000000000000000000000000000000"]\n'
                    '[[connections]]\nnumbers = ["+1500555*"]\nhost = "h"\nsystem_id = "s"\npassword = "p"\n'
                    'submits_per_second = 25\n[opt_out]\nextra_stop_keywords = ["arret"]\n')
    config = load(str(toml))
    assert config is not None
    assert config.expiry == 60 and config.connections[0].submits_per_second == 25
    assert not config.smart_encoding_for("IS00000000000000000000000000000000")
    assert config.smart_encoding_for("IS11111111111111111111111111111111")
    assert config.opt_out.classify("Arret") == ("stop", STOP_REPLY)
    as_json = tmp_path / "sms.json"
    as_json.write_text(json.dumps({"sms": BASE}))
    assert load(str(as_json)).connections[0].system_id == "me"  # type: ignore[union-attr]


@pytest.mark.parametrize(("data", "message"), [
    ({}, "at least one entry"),
    ({"connections": [{"numbers": ["+1"], "system_id": "x"}]}, "needs 'host'"),
    ({"connections": [{"numbers": [], "host": "h", "system_id": "x"}]}, "at least one number"),
    ({"connections": [{"numbers": ["+1"], "host": "h", "system_id": "x", "bind": "sideways"}]}, "bind"),
    ({"connections": [{"numbers": ["+1"], "host": "h", "system_id": "x", "window": 0}]}, "window"),
    ({"connections": [{"numbers": ["+1"], "host": "h", "system_id": "x", "port": "abc"}]}, "connections[0]"),
    ({"connections": [{"name": "a", "numbers": ["+1"], "host": "h", "system_id": "x"}] * 2}, "unique"),
    ({**BASE, "expiry_seconds": 0}, "expiry"),
    ({**BASE, "opt_out": {"stop_keywords": "STOP"}}, "list of words"),
    ({"connections": [{"numbers": ["+1"], "host": "h", "system_id": "x", "enquire_link_interval": 0}]},
     "enquire_link_interval"),
    ({"connections": [{"numbers": ["+1"], "host": "h", "system_id": "x", "response_timeout": 60}]},
     "response_timeout must be 0.5..30"),
    ({"connections": [{"numbers": ["+1"], "host": "h", "system_id": "x", "max_unrecorded": 0}]}, "max_unrecorded"),
    ({"connections": [{"numbers": ["+1"], "host": "h", "system_id": "x", "tls": True, "tls_ca": "/nonexistent.pem"}]},
     "tls_ca: no such file"),
    ({"connections": [{"numbers": ["+1"], "host": "h", "system_id": "x", "tls_ca": __file__}]}, "tls is false"),
])
def test_config_errors(data: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
        parse(data)


def test_opt_out_keywords() -> None:
    opt_out = parse(BASE).opt_out
    for word in ("STOP", "stop", " Stop\n", "STOPALL", "unsubscribe", "CANCEL", "end", "QUIT", "revoke", "OPTOUT"):
        assert opt_out.classify(word) == ("stop", STOP_REPLY), word
    for word in ("START", "yes", "Unstop"):
        assert opt_out.classify(word)[0] == "start"  # type: ignore[index]
    assert opt_out.classify("help") == ("help", HELP_REPLY)
    assert opt_out.classify("INFO") == ("help", HELP_REPLY)
    for text in ("STOP PLEASE", "stop!", "", "   ", "STOPP", "please stop"):
        assert opt_out.classify(text) is None, text
    custom = parse({**BASE, "opt_out": {"stop_reply": "Bye.", "help_reply": "", "extra_help_keywords": ["aide"]}})
    assert custom.opt_out.classify("stop") == ("stop", "Bye.")
    assert custom.opt_out.classify("AIDE") == ("help", None)  # an empty reply sends nothing
    assert parse({**BASE, "opt_out": {"enabled": False}}).opt_out.classify("STOP") is None


def test_addresses() -> None:
    assert to_e164("15551230000", 1) == "+15551230000"
    assert to_e164("15551230000", 0) == "+15551230000"
    assert to_e164("12345", 3) == "12345"
    assert to_e164("+15551230000", 0) == "+15551230000"
    assert to_e164("ACME", 5) == "ACME"
    assert from_e164("+15551230000") == ("15551230000", 1, 1)
    assert from_e164("12345") == ("12345", 3, 0)
    assert from_e164("ACME") == ("ACME", 5, 0)


def test_submit_for_parts() -> None:
    [single] = split_for_sms("hi", True, ref=7)
    sm = submit_for(single, "+15005550006", "+15551230000", relative_validity(36000))
    assert (sm.esm_class, sm.data_coding, sm.registered_delivery, sm.short_message) == (0, 0, 1, b"hi")
    assert sm.validity_period == "000000100000000R"
    first = split_for_sms("x" * 200, True, ref=7)[0]
    assert submit_for(first, "+15005550006", "+15551230000").esm_class == 0x40
    assert relative_validity(1) == "000000000100000R"  # at least a minute
    assert relative_validity(100 * 86400) == "000099000000000R"


def test_receipt_tlv_form_wins_over_text() -> None:
    sm = _sm(b"id:other stat:UNDELIV err:001", esm_class=0x04,
             tlvs={TLV_RECEIPTED_MESSAGE_ID: b"abc123\x00", TLV_MESSAGE_STATE: bytes([2])})
    assert is_receipt(sm)
    dlr = parse_receipt(sm)
    assert dlr is not None and (dlr.message_id, dlr.stat, dlr.final) == ("abc123", "DELIVRD", True)


def test_receipt_text_form() -> None:
    text = b"id:0123456789 sub:001 dlvrd:000 submit date:2601011200 done date:2601011201 stat:UNDELIV err:005 text:Hi"
    dlr = parse_receipt(_sm(text, esm_class=0x04))
    assert dlr is not None and (dlr.message_id, dlr.stat, dlr.err) == ("0123456789", "UNDELIV", "005")
    assert parse_receipt(_sm(b"id:9 stat:DELIVERED", esm_class=0x04)).stat == "DELIVRD"  # type: ignore[union-attr]
    assert not parse_receipt(_sm(b"id:9 stat:ENROUTE", esm_class=0x04)).final  # type: ignore[union-attr]
    assert parse_receipt(_sm(b"garbage", esm_class=0x04)) is None
    with_error = _sm(b"", esm_class=0x04, tlvs={TLV_RECEIPTED_MESSAGE_ID: b"7\x00", TLV_MESSAGE_STATE: bytes([5]),
                                                 TLV_NETWORK_ERROR_CODE: bytes([3, 0, 27])})
    assert parse_receipt(with_error).err == "27"  # type: ignore[union-attr]
    assert not is_receipt(_sm(b"id:1 stat:DELIVRD"))  # an MO that looks like one is still an MO


def test_message_id_variants() -> None:
    assert message_id_variants("255") == ["255", "ff", "FF"]
    assert message_id_variants("ff") == ["ff", "255"]
    assert message_id_variants("n1-x") == ["n1-x"]


def test_inbound_udh_8_and_16_bit_and_sar() -> None:
    part = inbound_part(_sm(bytes([5, 0, 3, 9, 2, 1]) + b"abc", esm_class=0x40))
    assert (part.ref, part.total, part.seq, part.payload, part.source) == (9, 2, 1, b"abc", "+15551230000")
    part = inbound_part(_sm(bytes([6, 8, 4, 1, 2, 3, 2]) + b"de", esm_class=0x40))
    assert (part.ref, part.total, part.seq, part.payload) == (258, 3, 2, b"de")
    part = inbound_part(_sm(b"fg", tlvs={TLV_SAR_MSG_REF_NUM: b"\x01\x00", TLV_SAR_TOTAL_SEGMENTS: b"\x02",
                                         TLV_SAR_SEGMENT_SEQNUM: b"\x02"}))
    assert (part.ref, part.total, part.seq, part.payload) == (256, 2, 2, b"fg")
    single = inbound_part(_sm(bytes([5, 0, 3, 9, 1, 1]) + b"solo", esm_class=0x40))
    assert single.ref is None and single.payload == b"solo"


@pytest.mark.parametrize("body", ["short", "x" * 161, "€" * 100, "é" * 71, "😀 " * 40])
def test_cached_split_is_the_split_with_each_reference(body: str) -> None:
    for ref in (0, 7, 255):
        assert split_parts(body, True, ref) == split_for_sms(body, True, ref=ref)
        assert split_parts(body, False, ref) == split_for_sms(body, False, ref=ref)


def test_fingerprint_tells_a_redelivery_from_a_different_sms() -> None:
    sm = _sm(b"hello", tlvs={0x1401: b"id-1"})
    assert fingerprint(sm) == fingerprint(_sm(b"hello", tlvs={0x1401: b"id-1"}))
    assert fingerprint(sm) != fingerprint(_sm(b"hello", tlvs={0x1401: b"id-2"}))  # the SMSC's own id differs
    assert fingerprint(sm) != fingerprint(_sm(b"hello!", tlvs={0x1401: b"id-1"}))
    assert fingerprint(sm) != fingerprint(_sm(b"hello", tlvs={0x1401: b"id-1"}, source="15551230001"))
    assert fingerprint(_sm(b"ab", data_coding=0)) != fingerprint(_sm(b"ab", data_coding=8))


class _Transport:
    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, data: bytes) -> None:
        self.data += data

    def writelines(self, chunks: Iterable[bytes]) -> None:
        for chunk in chunks:
            self.data += chunk

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        pass


def test_relay_frames_pdus_split_anywhere_and_keeps_deliver_sm_for_hubbub() -> None:
    """The relay between the SMPP library and the SMSC passes PDUs through whole, however the stream is cut,
    and keeps deliver_sm back (answered only when Hubbub acknowledges it)."""
    import smpp34

    from hubbub.channels.sms.smpp import _Relay

    [conn] = parse(BASE).connections
    submit_resp = bytes.fromhex("00000015800000040000000000000007") + b"id-7\x00"
    deliver = smpp34.DeliverSm("15551230000", "15005550006", b"hello", sequence_number=9).encode()
    enquire = bytes.fromhex("00000010000000150000000000000003")
    stream = submit_resp + deliver + enquire + submit_resp
    for cut in range(1, len(stream)):
        got: list[tuple[InboundSm, object]] = []
        relay = _Relay(conn, "TRX", "s1", lambda sm, d, got=got: got.append((sm, d)), lambda tokens: None)
        up, down = _Transport(), _Transport()
        relay.up, relay.down = up, down  # type: ignore[assignment]
        relay.received(True, stream[:cut])
        relay.received(True, stream[cut:])
        assert bytes(down.data) == submit_resp + enquire + submit_resp, cut
        [(sm, delivery)] = got
        assert (sm.source, sm.destination, sm.short_message) == ("15551230000", "15005550006", b"hello")
        assert up.data == b""
        delivery.ack()  # type: ignore[attr-defined]
        assert bytes(up.data) == bytes.fromhex("00000011800000050000000000000009") + b"\x00"


def test_relay_answers_between_the_librarys_pdus_however_its_stream_is_cut() -> None:
    """The library's bytes go to the SMSC as they come, but a deliver_sm_resp the relay writes while one of the
    library's PDUs is only partly through waits for its end: the SMSC never sees a PDU inside another."""
    import smpp34

    from hubbub.channels.sms.smpp import _Relay

    [conn] = parse(BASE).connections
    deliver = smpp34.DeliverSm("15551230000", "15005550006", b"hello", sequence_number=9).encode()
    submit = smpp34.SubmitSm("15005550006", "15551230000", b"x" * 140, sequence_number=4).encode()
    enquire_resp = bytes.fromhex("00000010800000150000000000000003")
    stream = submit + enquire_resp + submit
    answer = bytes.fromhex("00000011800000050000000000000009") + b"\x00"
    for cut in range(1, len(stream)):
        for second in (cut, min(cut + 2, len(stream)), len(stream)):
            got: list[tuple[InboundSm, object]] = []
            relay = _Relay(conn, "TRX", "s1", lambda sm, d, got=got: got.append((sm, d)), lambda tokens: None)
            up, down = _Transport(), _Transport()
            relay.up, relay.down = up, down  # type: ignore[assignment]
            relay.received(True, deliver)
            [(_, delivery)] = got
            relay.received(False, stream[:cut])
            delivery.ack()  # type: ignore[attr-defined]
            relay.received(False, stream[cut:second])
            relay.received(False, stream[second:])
            sent = bytes(up.data)
            assert sent.replace(answer, b"", 1) == stream, (cut, second)
            at = sent.index(answer)
            boundaries = {0, len(submit), len(submit) + len(enquire_resp), len(stream)}
            assert at in boundaries and at >= cut, (cut, second, at)


@pytest.mark.skipif(not hasattr(socket, "TCP_QUICKACK"), reason="TCP_QUICKACK is Linux's")
def test_relay_acknowledges_a_deliver_sm_read_at_once_at_tcp_level() -> None:
    """Holding deliver_sm_resp back for a commit must not hold the TCP ACK back too: an SMSC with Nagle's
    algorithm on would keep the submit_sm_resp it writes next until that ACK came (see smpp.py, the relay)."""
    import smpp34

    from hubbub.channels.sms.smpp import _Relay

    class Socket:
        def __init__(self) -> None:
            self.options: list[tuple[int, int, int]] = []

        def setsockopt(self, level: int, option: int, value: int) -> None:
            self.options.append((level, option, value))

    class Upstream(_Transport):
        def __init__(self) -> None:
            super().__init__()
            self.socket = Socket()

        def get_extra_info(self, name: str) -> object:
            return self.socket if name == "socket" else None

    [conn] = parse(BASE).connections
    relay = _Relay(conn, "TRX", "s1", lambda sm, d: None, lambda tokens: None)
    up = Upstream()
    relay.attach(True, up)  # type: ignore[arg-type]
    relay.down = _Transport()  # type: ignore[assignment]
    relay.received(True, bytes.fromhex("00000015800000040000000000000007") + b"id-7\x00")
    assert up.socket.options == []  # a submit_sm_resp: the library answers it by sending on
    relay.received(True, smpp34.DeliverSm("15551230000", "15005550006", b"hi", sequence_number=9).encode())
    assert up.socket.options == [(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)]
