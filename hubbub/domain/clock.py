"""Time in the wire format Twilio uses: UTC, whole seconds, `YYYY-MM-DDTHH:MM:SSZ`.

Timestamps are stored as integer epoch seconds so both SQLite and PostgreSQL compare them natively.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from hubbub.errors import InvalidParameter

# Seconds added to the system clock. Only the test clock moves it (`/hubbub/v1/Testing/Clock`, enabled by
# HUBBUB_TESTING=1), so tests can make timers and retries fall due without sleeping.
_offset = 0.0


def now() -> int:
    return int(time.time() + _offset)


def now_ms() -> int:
    """Epoch milliseconds (webhook retry schedules and the delivery log need sub-second times)."""
    return int((time.time() + _offset) * 1000)


def advance(seconds: float) -> None:
    """Move the clock forward (test clock only)."""
    global _offset
    _offset += max(0.0, seconds)


_last_iso: tuple[int, str] = (-1, "")


def iso(ts: int | None) -> str | None:
    global _last_iso
    if ts is None:
        return None
    last = _last_iso
    if ts == last[0]:  # most timestamps rendered in a busy second are that second
        return last[1]
    # not strftime("%Y…"): glibc does not zero-pad years before 1000, and the SDKs need four digits
    text = datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    _last_iso = (ts, text)
    return text


def parse_datetime(value: str, name: str) -> int:
    """Parse an ISO 8601 date-time (as the SDKs send it) into epoch seconds."""
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidParameter(f"Invalid {name}: '{value}' is not an ISO 8601 date-time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return int(parsed.timestamp())
    except (OverflowError, OSError, ValueError):
        raise InvalidParameter(f"Invalid {name}: '{value}' is out of range") from None
