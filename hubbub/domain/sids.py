"""Twilio SIDs: a two-letter prefix and 32 lower-case hex digits."""

from __future__ import annotations

import re
import secrets

_SID_RE = re.compile(r"^[A-Z]{2}[0-9a-fA-F]{32}$")


def new_sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


def is_sid(value: str, prefix: str) -> bool:
    return len(value) == 34 and value.startswith(prefix) and bool(_SID_RE.match(value))
