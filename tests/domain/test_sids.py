"""SIDs: shape, uniqueness across the random-byte buffer's refills, and a forked child's own values."""

from __future__ import annotations

import os

from hubbub.domain.sids import is_sid, new_sid, random_hex


def test_sids_are_well_formed_and_distinct_across_many_buffer_refills() -> None:
    sids = [new_sid("IM") for _ in range(5000)]  # 80,000 random bytes: about 20 refills of the buffer
    assert all(is_sid(sid, "IM") for sid in sids)
    assert len(set(sids)) == len(sids)
    assert len(random_hex(8)) == 16 and len(random_hex(5000)) == 10000


def test_a_forked_child_does_not_repeat_the_parents_next_values() -> None:
    random_hex(1)  # the buffer holds unused bytes now
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next SID and leave at once
        os.write(write, new_sid("CH").encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 100).decode()
    os.close(read)
    os.waitpid(pid, 0)
    assert is_sid(child, "CH")
    assert child != new_sid("CH")
