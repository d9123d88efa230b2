"""Summarise a py-spy `--format raw` (collapsed stacks) profile: top functions by own and total samples.

    .venv/bin/python bench/pyspy_summary.py /tmp/profile.txt [--top 15] [--by-thread] [--lines]

Each input line is `frame;frame;...;leaf COUNT` (with `--threads`, the first frame is `thread (TID): NAME`).
Functions are keyed by `name (file)` without the line number unless --lines is given. "own" counts
samples where the function is the leaf; "total" counts samples where it is anywhere on the stack
(once per stack, so recursion does not inflate it). Percentages are of all samples (py-spy leaves idle
samples out by default, so these are shares of CPU time spent in Python threads of the process).
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

_LINE = re.compile(r"^(.*) (\d+)$")
_LINENO = re.compile(r":\d+\)$")


def _key(frame: str, lines: bool) -> str:
    return frame if lines else _LINENO.sub(")", frame)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("profile")
    p.add_argument("--top", type=int, default=15)
    p.add_argument("--by-thread", action="store_true", help="also print the sample share of each thread")
    p.add_argument("--lines", action="store_true", help="keep line numbers in function keys")
    p.add_argument("--grep", help="only stacks containing this substring")
    args = p.parse_args()

    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    n = 0
    for raw in Path(args.profile).read_text().splitlines():
        m = _LINE.match(raw.strip())
        if not m:
            continue
        stack, count = m.group(1), int(m.group(2))
        if args.grep and args.grep not in stack:
            continue
        frames = stack.split(";")
        if frames and frames[0].startswith("thread ("):
            threads[re.sub(r"^thread \(\d+\): ?", "", frames[0]) or frames[0]] += count
            frames = frames[1:]
        if not frames:
            continue
        n += count
        own[_key(frames[-1], args.lines)] += count
        for key in {_key(f, args.lines) for f in frames}:
            total[key] += count

    print(f"{n} samples")
    if args.by_thread:
        print("\nby thread:")
        for name, c in threads.most_common():
            print(f"  {100.0 * c / n:6.1f}%  {name}")
    for title, counter in (("own (leaf) time", own), ("total (inclusive) time", total)):
        print(f"\ntop {args.top} by {title}:")
        for name, _count in counter.most_common(args.top):
            print(f"  own {100.0 * own[name] / n:5.1f}%  total {100.0 * total[name] / n:5.1f}%  {name}")


if __name__ == "__main__":
    main()
