"""What every webhook sender shares, whichever process it runs in: one signed request (`send_signed`) and
the ordering rule of post-action deliveries (`Lanes`).

Kept free of the database and SQLAlchemy so that the sender child process (`hubbub/webhooks/sender.py`)
starts small and fast.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Generic, TypeVar

from hubbub.webhooks.http import Sender, SendError
from hubbub.webhooks.signing import signed_request

USER_AGENT = "TwilioProxy/1.1"

T = TypeVar("T")


async def send_signed(sender: Sender, token: str, method: str, url: str, params: list[tuple[str, str]],
                      timeout: float, extra_headers: dict[str, str] | None = None
                      ) -> tuple[int | None, bytes, str | None, int]:
    """One signed webhook request: (status or None, response body, error text or None, latency in µs)."""
    started = time.perf_counter()
    status: int | None = None
    content = b""
    error: str | None = None
    try:
        target, body, headers = signed_request(token, method, url, params)
        headers["User-Agent"] = USER_AGENT
        if extra_headers:
            headers.update(extra_headers)
        status, content = await sender.send(method, target, body, headers, timeout)
        if not 200 <= status < 300:
            error = f"HTTP {status}"
    except SendError as exc:
        error = str(exc)
    except Exception as exc:  # noqa: BLE001 - a bad URL or the like must not kill the worker
        error = f"{type(exc).__name__}: {exc}"
    return status, content, error, int((time.perf_counter() - started) * 1_000_000)


class Lanes(Generic[T]):
    """Runs `attempt(item)` for submitted items: items with the same lane key one after another, in the
    order they were submitted (a conversation's first attempts to one URL); items without a key (retries,
    user events) at once; never more than `concurrency` attempts at a time."""

    def __init__(self, concurrency: int, attempt: Callable[[T], Awaitable[None]]) -> None:
        self._attempt = attempt
        self._sem = asyncio.Semaphore(concurrency)
        self._lanes: dict[Hashable, deque[T]] = {}
        self.in_flight: set[asyncio.Task[Any]] = set()

    def submit(self, item: T, lane: Hashable | None) -> None:
        if lane is None:
            self._spawn(self._one(item))
            return
        queued = self._lanes.get(lane)
        if queued is not None:
            queued.append(item)
            return
        queued = deque([item])
        self._lanes[lane] = queued
        self._spawn(self._run_lane(lane, queued))

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self.in_flight.add(task)
        task.add_done_callback(self.in_flight.discard)

    async def _one(self, item: T) -> None:
        async with self._sem:
            await self._attempt(item)

    async def _run_lane(self, lane: Hashable, queued: deque[T]) -> None:
        try:
            while queued:
                await self._one(queued[0])
                queued.popleft()
        finally:
            if self._lanes.get(lane) is queued:
                del self._lanes[lane]

    async def drain(self, grace: float) -> None:
        """Let the attempts in progress finish for up to `grace` seconds, then cancel what is left (queued
        lane items are dropped: their deliveries stay claimed in the database and are sent again)."""
        if self.in_flight:
            await asyncio.wait(self.in_flight, timeout=grace)
        for task in list(self.in_flight):
            task.cancel()
        await asyncio.gather(*self.in_flight, return_exceptions=True)
