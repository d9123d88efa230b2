"""Twilio SIDs: a two-letter prefix and 32 lower-case hex digits."""

from __future__ import annotations

import os
import re
import threading

_SID_RE = re.compile(r"^[A-Z]{2}[0-9a-fA-F]{32}$")

# The kernel's randomness, fetched 4 KiB at a time: one getrandom() call per 256 SIDs instead of one per
# SID (`secrets.token_hex` makes a system call each time, a visible share of a message create's CPU).
_BLOCK = 4096
_lock = threading.Lock()
_buffer = b""
_offset = 0


def _forget_buffer() -> None:
    """A forked child must not hand out the bytes its parent has already used or will use."""
    global _buffer, _offset
    _buffer, _offset = b"", 0


os.register_at_fork(after_in_child=_forget_buffer)


def random_hex(nbytes: int) -> str:
    """`nbytes` random bytes from the OS's CSPRNG, as 2 × nbytes hex digits (like `secrets.token_hex`)."""
    global _buffer, _offset
    with _lock:
        start = _offset
        if start + nbytes > len(_buffer):
            _buffer, start = os.urandom(max(_BLOCK, nbytes)), 0
        _offset = start + nbytes
        return _buffer[start:start + nbytes].hex()


def new_sid(prefix: str) -> str:
    return prefix + random_hex(16)


def is_sid(value: str, prefix: str) -> bool:
    return len(value) == 34 and value.startswith(prefix) and bool(_SID_RE.match(value))
