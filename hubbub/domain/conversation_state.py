"""Conversation states and timer rules (pure)."""

from __future__ import annotations

from dataclasses import dataclass

from hubbub import errors
from hubbub.domain.durations import parse_duration
from hubbub.errors import InvalidParameter

STATES = ("active", "inactive", "closed", "initializing")
MIN_INACTIVE = 60
MIN_CLOSED = 600


@dataclass(frozen=True)
class Timers:
    inactive: str | None = None  # ISO 8601 duration as given
    closed: str | None = None


def check_timer(value: str | None, kind: str) -> str | None:
    """Validate `Timers.Inactive` / `Timers.Closed`; `PT0S` (zero) means no timer."""
    if value is None:
        return None
    seconds = parse_duration(value)
    if kind == "inactive":
        if seconds is None:
            raise InvalidParameter(f"Invalid Timers.Inactive: '{value[:64]}' is not an ISO 8601 duration",
                                   code=errors.TIMER_INACTIVE_INVALID)
        if 0 < seconds < MIN_INACTIVE:
            raise InvalidParameter("Timers.Inactive must be at least 1 minute",
                                   code=errors.TIMER_INACTIVE_TOO_SHORT)
    else:
        if seconds is None:
            raise InvalidParameter(f"Invalid Timers.Closed: '{value[:64]}' is not an ISO 8601 duration",
                                   code=errors.TIMER_CLOSED_INVALID)
        if 0 < seconds < MIN_CLOSED:
            raise InvalidParameter("Timers.Closed must be at least 10 minutes",
                                   code=errors.TIMER_CLOSED_TOO_SHORT)
    return value


def due_times(state: str, timers: Timers, now: int) -> tuple[int | None, int | None]:
    """When the conversation turns inactive and closed, counted from `now`."""
    if state == "closed":
        return None, None
    inactive = parse_duration(timers.inactive) if timers.inactive else None
    closed = parse_duration(timers.closed) if timers.closed else None
    date_inactive = now + inactive if inactive and state == "active" else None
    date_closed = now + closed if closed else None
    return date_inactive, date_closed
