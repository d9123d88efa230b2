"""Pure SMS-over-SMPP logic on top of the adapter's dataclasses: addresses and TON/NPI, building the
submit_sm of each part, concatenation headers (UDH and SAR TLVs) of inbound parts, and delivery receipts
in both their forms (receipted_message_id / message_state TLVs, and the `id:… stat:…` text)."""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass

from hubbub.channels.sms.smpp import InboundSm, OutboundSm
from hubbub.domain.sms_encoding import SmsPart, decode_inbound

# SMPP 3.4 optional parameter tags (§5.3.2).
TLV_RECEIPTED_MESSAGE_ID = 0x001E
TLV_SAR_MSG_REF_NUM = 0x020C
TLV_SAR_TOTAL_SEGMENTS = 0x020E
TLV_SAR_SEGMENT_SEQNUM = 0x020F
TLV_NETWORK_ERROR_CODE = 0x0423
TLV_MESSAGE_PAYLOAD = 0x0424
TLV_MESSAGE_STATE = 0x0427

ESM_UDHI = 0x40
ESM_TYPE_MASK = 0x3C
ESM_DELIVERY_RECEIPT = 0x04
ESM_DELIVERY_ACK = 0x08
ESM_INTERMEDIATE = 0x20

# message_state values (§5.2.28) and their stat: words in the text form (Appendix B).
STATES = {1: "ENROUTE", 2: "DELIVRD", 3: "EXPIRED", 4: "DELETED", 5: "UNDELIV", 6: "ACCEPTD", 7: "UNKNOWN",
          8: "REJECTD"}
_STAT_ALIASES = {"DELIVERED": "DELIVRD", "UNDELIVERABLE": "UNDELIV", "ACCEPTED": "ACCEPTD",
                 "REJECTED": "REJECTD"}
# A final SMSC state → (Conversations receipt status, Twilio error code).
RECEIPT_STATUS = {
    "DELIVRD": ("delivered", 0),
    "EXPIRED": ("undelivered", 30003),  # not reached before the validity period ended
    "UNDELIV": ("undelivered", 30003),
    "DELETED": ("undelivered", 30008),
    "UNKNOWN": ("undelivered", 30008),
    "REJECTD": ("undelivered", 30007),  # refused by the carrier
}
_DLR_TEXT = re.compile(r"id:(?P<id>\S+).*?stat:(?P<stat>[A-Za-z]+)(?:.*?err:(?P<err>[0-9A-Fa-f]+))?",
                       re.DOTALL)


@dataclass(frozen=True, slots=True)
class Dlr:
    message_id: str
    stat: str  # DELIVRD, UNDELIV, …
    err: str | None = None

    @property
    def final(self) -> bool:
        return self.stat in RECEIPT_STATUS


@dataclass(frozen=True, slots=True)
class InboundPart:
    source: str
    destination: str
    data_coding: int
    payload: bytes
    ref: int | None = None  # concatenation reference, None for a single-part message
    total: int = 1
    seq: int = 1


def to_e164(address: str, ton: int) -> str:
    """An SMPP address as Hubbub stores it: international numbers as `+digits`."""
    address = address.strip()
    if address.startswith("+"):
        return address
    if address.isdigit() and (ton == 1 or (ton == 0 and len(address) >= 9)):
        return "+" + address
    return address


@functools.lru_cache(maxsize=4096)
def from_e164(address: str) -> tuple[str, int, int]:
    """(address, TON, NPI) for submit_sm: international, short code or alphanumeric sender."""
    if address.startswith("+") and address[1:].isdigit():
        return address[1:], 1, 1
    if address.isdigit():
        return address, (3 if len(address) <= 8 else 1), (0 if len(address) <= 8 else 1)
    return address, 5, 0


def submit_for(part: SmsPart, sender: str, destination: str, validity_period: str = "") -> OutboundSm:
    source, source_ton, source_npi = from_e164(sender)
    dest, dest_ton, dest_npi = from_e164(destination)
    return OutboundSm(source=source, destination=dest, short_message=part.udh + part.payload,
                      data_coding=part.data_coding, esm_class=ESM_UDHI if part.udh else 0,
                      registered_delivery=1, source_ton=source_ton, source_npi=source_npi,
                      dest_ton=dest_ton, dest_npi=dest_npi, validity_period=validity_period)


@functools.lru_cache(maxsize=256)
def relative_validity(seconds: int) -> str:
    """SMPP relative time format YYMMDDhhmmss000R for a validity period (capped at 99 days)."""
    seconds = max(60, min(seconds, 99 * 86400))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    return f"0000{days:02d}{hours:02d}{minutes:02d}{secs:02d}000R"


def is_receipt(sm: InboundSm) -> bool:
    kind = sm.esm_class & ESM_TYPE_MASK
    return kind in (ESM_DELIVERY_RECEIPT, ESM_DELIVERY_ACK, ESM_INTERMEDIATE) or TLV_RECEIPTED_MESSAGE_ID in sm.tlvs


def _cstring(value: bytes) -> str:
    return value.split(b"\x00", 1)[0].decode("latin-1").strip()


def parse_receipt(sm: InboundSm) -> Dlr | None:
    """The message id and final state a delivery receipt reports; TLVs win over the text form."""
    text = sm.short_message or sm.tlvs.get(TLV_MESSAGE_PAYLOAD, b"")
    match = _DLR_TEXT.search(text.decode("latin-1"))
    message_id = _cstring(sm.tlvs[TLV_RECEIPTED_MESSAGE_ID]) if TLV_RECEIPTED_MESSAGE_ID in sm.tlvs else None
    stat: str | None = None
    if TLV_MESSAGE_STATE in sm.tlvs and sm.tlvs[TLV_MESSAGE_STATE]:
        stat = STATES.get(sm.tlvs[TLV_MESSAGE_STATE][0])
    err: str | None = None
    if TLV_NETWORK_ERROR_CODE in sm.tlvs and len(sm.tlvs[TLV_NETWORK_ERROR_CODE]) == 3:
        err = str(int.from_bytes(sm.tlvs[TLV_NETWORK_ERROR_CODE][1:], "big"))
    if match:
        message_id = message_id or match.group("id")
        word = match.group("stat").upper()
        stat = stat or _STAT_ALIASES.get(word, word)
        err = err or match.group("err")
    if not message_id or not stat:
        return None
    return Dlr(message_id, stat, err)


def fingerprint(sm: InboundSm) -> str:
    """What identifies one deliver_sm when the SMSC sends it again: every field and TLV, not the sequence
    number (a redelivery on a new bind gets a new one). An SMSC that puts its own message id in a TLV makes
    this exact; without one, two identical texts from the same sender are told apart by `session` (see
    actions.sms.do_receive)."""
    digest = hashlib.sha256()
    for text in (sm.source, str(sm.source_ton), sm.destination, str(sm.dest_ton), str(sm.esm_class),
                 str(sm.data_coding)):
        digest.update(text.encode("utf-8", "surrogatepass") + b"\x00")
    digest.update(len(sm.short_message).to_bytes(4, "big") + sm.short_message)
    for tag in sorted(sm.tlvs):
        value = sm.tlvs[tag]
        digest.update(tag.to_bytes(2, "big") + len(value).to_bytes(4, "big") + value)
    return digest.hexdigest()


def message_id_variants(message_id: str) -> list[str]:
    """Some SMSCs answer submit_sm in hex and write the receipt's id in decimal, or the other way round."""
    variants = [message_id]
    if message_id.isdigit() and len(message_id) <= 20:
        variants.append(format(int(message_id), "x"))
        variants.append(format(int(message_id), "X"))
    elif re.fullmatch(r"[0-9A-Fa-f]{1,16}", message_id):
        variants.append(str(int(message_id, 16)))
    return list(dict.fromkeys(variants))


def inbound_part(sm: InboundSm) -> InboundPart:
    """The text-bearing part of a deliver_sm, with its concatenation header (UDH or SAR TLVs) taken off."""
    source = to_e164(sm.source, sm.source_ton)
    destination = to_e164(sm.destination, sm.dest_ton)
    data = sm.short_message or sm.tlvs.get(TLV_MESSAGE_PAYLOAD, b"")
    ref: int | None = None
    total, seq = 1, 1
    if sm.esm_class & ESM_UDHI and data:
        length = data[0]
        header, data = data[1:1 + length], data[1 + length:]
        i = 0
        while i + 1 < len(header):
            iei, ie_len = header[i], header[i + 1]
            ie = header[i + 2:i + 2 + ie_len]
            if iei == 0x00 and ie_len == 3:
                ref, total, seq = ie[0], ie[1], ie[2]
            elif iei == 0x08 and ie_len == 4:
                ref, total, seq = int.from_bytes(ie[:2], "big"), ie[2], ie[3]
            i += 2 + ie_len
    elif TLV_SAR_MSG_REF_NUM in sm.tlvs and TLV_SAR_TOTAL_SEGMENTS in sm.tlvs:
        ref = int.from_bytes(sm.tlvs[TLV_SAR_MSG_REF_NUM], "big")
        total = sm.tlvs[TLV_SAR_TOTAL_SEGMENTS][0]
        seq = sm.tlvs.get(TLV_SAR_SEGMENT_SEQNUM, b"\x01")[0]
    if ref is None or total <= 1:
        return InboundPart(source, destination, sm.data_coding, data)
    return InboundPart(source, destination, sm.data_coding, data, ref, total, seq)


def decode_text(payload: bytes, data_coding: int) -> str:
    """GSM 03.38, IA5, Latin-1 or UCS-2; anything else is read as Latin-1."""
    coding = data_coding
    if 0xF0 <= coding <= 0xFF:  # message class coding group: bit 2 chooses 8-bit data, else GSM 7-bit
        coding = 4 if coding & 0x04 else 0
    try:
        return decode_inbound(payload, coding)
    except ValueError:
        return payload.decode("latin-1")
