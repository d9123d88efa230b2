"""Time in the wire format Twilio uses: UTC, whole seconds, `YYYY-MM-DDTHH:MM:SSZ`.

Timestamps are stored as integer epoch seconds so both SQLite and PostgreSQL compare them natively.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from hubbub.errors import InvalidParameter


def now() -> int:
    return int(time.time())


def iso(ts: int | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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
