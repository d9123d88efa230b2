"""Start and stop the webhook and lifecycle workers with the server (called from app.py's lifespan)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette

from hubbub.lifecycle import TimerWorker
from hubbub.store.database import Database
from hubbub.webhooks import targets
from hubbub.webhooks.config import WebhookSettings
from hubbub.webhooks.dispatcher import Dispatcher, purge_log
from hubbub.webhooks.pre import PreWebhooks

log = logging.getLogger(__name__)


@dataclass
class WebhookRuntime:
    settings: WebhookSettings
    dispatcher: Dispatcher | None
    pre: PreWebhooks
    timers: TimerWorker
    purger: asyncio.Task[Any]

    def wake(self) -> None:
        """Look for due deliveries and timers now (after the test clock moved)."""
        if self.dispatcher is not None:
            self.dispatcher.wake()
        self.timers.wake()

    async def stop(self) -> None:
        self.purger.cancel()
        await asyncio.gather(self.purger, return_exceptions=True)
        await self.timers.stop()
        if self.dispatcher is not None:
            await self.dispatcher.stop()
        await self.pre.close()


async def _purge_forever(db: Database, settings: WebhookSettings) -> None:
    while True:
        try:
            removed = await purge_log(db, settings)
            if removed:
                log.info("webhook delivery log: purged %d old rows", removed)
        except Exception:
            log.exception("webhook delivery log purge failed")
        await asyncio.sleep(settings.purge_interval)


async def start_webhooks(app: Starlette, db: Database, settings: WebhookSettings | None = None,
                         transport: Any = None) -> WebhookRuntime:
    settings = settings or WebhookSettings()
    targets.studio_flow_url = settings.studio_flow_url
    dispatcher = Dispatcher(db, settings, transport) if settings.dispatch else None
    if dispatcher is not None:
        dispatcher.start()
    timers = TimerWorker(db)
    timers.start()
    runtime = WebhookRuntime(settings, dispatcher, PreWebhooks(db, settings, transport), timers,
                             asyncio.create_task(_purge_forever(db, settings), name="webhook-log-purge"))
    app.state.webhooks = runtime
    app.state.pre_webhooks = runtime.pre
    return runtime
