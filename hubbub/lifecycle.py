"""The conversation lifecycle worker: fires due state timers (hubbub/actions/timers.py).

Due times live in the database, so a timer that fell due while the server was down fires right after it
starts. The worker checks once a second (timer due times have one-second resolution) with a cheap read,
and writes only when something is due. With the test clock (HUBBUB_TESTING=1), moving the clock wakes it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from hubbub.actions.timers import any_due, do_fire_due_timers
from hubbub.domain import clock
from hubbub.store.database import Database

log = logging.getLogger(__name__)

CHECK_INTERVAL = 1.0
BATCH = 200


class TimerWorker:
    def __init__(self, db: Database, interval: float = CHECK_INTERVAL) -> None:
        self.db = db
        self.interval = interval
        self._wake = asyncio.Event()
        self._task: asyncio.Task[Any] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="conversation-timers")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def wake(self) -> None:
        self._wake.set()

    async def run_once(self) -> int:
        """Fire every due timer now; returns how many conversations changed."""
        total = 0
        now = clock.now()
        if not await self.db.read(lambda conn: any_due(conn, now)):
            return 0
        while True:
            changed = await self.db.write(lambda conn: do_fire_due_timers(conn, now, BATCH))
            total += changed
            if changed < BATCH:
                return total

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self.run_once()
            except Exception:
                log.exception("conversation timers failed")
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.interval)
            except TimeoutError:
                pass
