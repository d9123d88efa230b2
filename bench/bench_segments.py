"""Segments computed per second on a realistic mix of SMS bodies, against a trivial baseline.

Run from the repository root:  python -m bench.bench_segments [--seconds 1.5]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from hubbub.domain.sms_encoding import segments_for, split_for_sms

MIX: dict[str, list[str]] = {
    "short GSM": [
        "Your code is 482913",
        "See you at 7? Bring the keys.",
        "Order #1182 shipped; track at example.com/t/1182",
        "OK",
    ],
    "long GSM with escapes": [
        "Reminder: {name}, your balance is €42.50 [due 03/12]. Reply STOP to opt out | HELP for help. " * 4,
        'Config: {"a": [1, 2], "b": "x|y"} ~ ^ \\ ' * 8,
    ],
    "emoji UCS-2": [
        "Happy birthday!! 🎉🎂🥳 Love from all of us 👨‍👩‍👧‍👦❤️",
        "Votre colis arrive demain 🚚 entre 9h et 12h. Merci 🙏 " * 3,
        "今日は会議が15時からです。よろしくお願いします🙇 " * 4,
    ],
    "smart-encodable": [
        "“Don’t forget” – the meeting’s at 10…",
        "It’s ready\u00a0— pick it up at the front desk ‘A’.\t½ price today‼ " * 3,
    ],
}
BODIES = [body for bodies in MIX.values() for body in bodies]


def rate(operation: Callable[[str], object], bodies: list[str], seconds: float) -> float:
    """Calls per second of ``operation`` over ``bodies``, measured for about ``seconds``."""
    calls = 0
    start = time.perf_counter()
    deadline = start + seconds
    while (now := time.perf_counter()) < deadline:
        for body in bodies:
            operation(body)
        calls += len(bodies)
    return calls / (now - start)


def baseline(body: str) -> int:
    return len(body.encode("utf-16-le"))


def split(body: str) -> object:
    return split_for_sms(body, ref=0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=1.5, help="time per measurement (default 1.5)")
    seconds = parser.parse_args(argv).seconds

    base = rate(baseline, BODIES, seconds)
    print(f"baseline len(utf-16)     {base:12,.0f} bodies/s")
    mixed = rate(segments_for, BODIES, seconds)
    print(f"segments_for, whole mix  {mixed:12,.0f} bodies/s  ({base / mixed:,.0f}x slower than baseline)")
    print(f"split_for_sms, whole mix {rate(split, BODIES, seconds):12,.0f} bodies/s")
    for kind, bodies in MIX.items():
        print(f"  segments_for, {kind:<22} {rate(segments_for, bodies, seconds / 4):10,.0f} bodies/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
