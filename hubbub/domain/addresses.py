"""Messaging-binding addresses: SMS numbers (E.164) and `whatsapp:` numbers."""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers

from hubbub.errors import BINDING_INVALID, InvalidParameter

WHATSAPP = "whatsapp:"


@dataclass(frozen=True)
class Address:
    channel: str  # "sms" | "whatsapp"
    value: str  # as stored and shown: "+15558675310" or "whatsapp:+15558675310"


def parse_address(raw: str, name: str) -> Address:
    """Check the syntax of a phone or WhatsApp address.

    A well-formed E.164 number of a plausible length is accepted even when it is not assigned to anyone
    (Twilio's own examples use +1555… numbers), so we check `is_possible_number`, not `is_valid_number`.
    """
    channel = "sms"
    number = raw
    if raw.lower().startswith(WHATSAPP):
        channel, number = "whatsapp", raw[len(WHATSAPP):]
    if not number.startswith("+") or not number[1:].isdigit() or len(number) > 16:
        raise InvalidParameter(f"Invalid {name}: '{raw}' is not an E.164 phone number", code=BINDING_INVALID)
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        raise InvalidParameter(f"Invalid {name}: '{raw}' is not a phone number", code=BINDING_INVALID) from None
    if not phonenumbers.is_possible_number(parsed):
        raise InvalidParameter(f"Invalid {name}: '{raw}' is not a possible phone number", code=BINDING_INVALID)
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return Address(channel, (WHATSAPP + e164) if channel == "whatsapp" else e164)
