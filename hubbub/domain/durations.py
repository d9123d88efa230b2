"""ISO 8601 durations as used by conversation timers (`PT1M`, `PT10M`, `P1D`).

Written by hand because only the day/time designators have a fixed length in seconds, which is what a
timer needs; years and months are refused rather than approximated.
"""

from __future__ import annotations

import re

_DURATION_RE = re.compile(
    r"^P(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$"
)
_UNIT_SECONDS = {"weeks": 604800, "days": 86400, "hours": 3600, "minutes": 60, "seconds": 1}
MAX_SECONDS = 10 * 365 * 86400


def parse_duration(text: str) -> int | None:
    """Seconds in `text`, or None when it is not a day/time ISO 8601 duration."""
    if len(text) > 64 or text in ("P", "PT") or text.endswith("T"):
        return None
    match = _DURATION_RE.match(text)
    if not match:
        return None
    total = sum(int(v) * _UNIT_SECONDS[k] for k, v in match.groupdict().items() if v)
    return total if total <= MAX_SECONDS else None
