"""The media store: files on disk (files.py), metadata in the `media` table (actions/media.py), the
MCS-compatible HTTP API (api/media.py), and the sweeper that unlinks the files of deleted media.

`start_media` is called from the application's lifespan; the API reads the store from `app.state.media`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import Any

from hubbub.actions import media as actions
from hubbub.media.files import MediaFiles, default_media_dir
from hubbub.store.database import Database

log = logging.getLogger(__name__)

SWEEP_INTERVAL = 60.0  # seconds between clean-ups (also run right after a commit that trashed media)


class MediaStore:
    def __init__(self, db: Database, root: Path, max_bytes: int) -> None:
        self.db = db
        self.files = MediaFiles(root)
        self.max_bytes = max_bytes
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    async def start(self) -> None:
        await asyncio.to_thread(self.files.open)
        loop = asyncio.get_running_loop()

        def after_commit() -> None:  # on the writer thread, after every commit: keep it this cheap
            if actions.trash_added.is_set():
                actions.trash_added.clear()
                loop.call_soon_threadsafe(self._wake.set)

        self.db.add_commit_listener(after_commit)
        self._task = asyncio.create_task(self._sweeper())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def sweep(self) -> int:
        """Trash the media of deleted messages/conversations/services, then unlink trashed files.

        The file is unlinked only after the row's deletion committed, and the trash row is dropped only
        after the unlink, so a crash at any point leaves a row to retry, never a row without its file.
        """
        while orphans := await self.db.read(actions.find_orphans):
            if not await self.db.write(lambda conn: actions.do_trash_orphans(conn, orphans)):
                break
        removed = 0
        while True:
            batch = await self.db.read(actions.trashed)
            if not batch:
                return removed
            await asyncio.to_thread(self.files.remove_all, [sid for _, sid in batch])
            ids = [i for i, _ in batch]
            await self.db.write(lambda conn, ids=ids: actions.do_forget_trash(conn, ids))  # type: ignore[misc]
            removed += len(batch)

    async def _sweeper(self) -> None:
        while True:
            try:
                await self.sweep()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("media sweep failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), SWEEP_INTERVAL)
            self._wake.clear()


async def start_media(app: Any, db: Database, settings: Any) -> MediaStore:
    root = Path(settings.media_dir) if settings.media_dir else default_media_dir(settings.database_url)
    store = MediaStore(db, root, settings.media_max_bytes)
    await store.start()
    app.state.media = store
    return store
