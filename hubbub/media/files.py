"""Media bytes on disk: streamed to a temporary file, fsynced, renamed into place.

Layout under the media directory: `tmp/` for uploads in progress, and `<2 hex>/<ME sid>` for stored
files (the two characters after `ME` spread files over 256 directories). An upload is durable before its
metadata row commits: the temporary file is fsynced, renamed to its final name and the directory fsynced,
so an acknowledged upload survives a crash; a crash mid-upload leaves at most a `tmp/` file (removed at the
next start) and no row. File I/O runs in worker threads so the event loop never waits on the disk.

The standard library does all of this (there is no maintained library for "durable atomic file write
with streaming"; the pattern is the usual write-fsync-rename-fsync(dir)).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from hubbub.store.database import sqlalchemy_url

log = logging.getLogger(__name__)

WRITE_CHUNK = 1 << 20  # bytes gathered before one write() in a worker thread


class UploadTooLarge(Exception):
    pass


class UploadEmpty(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Stored:
    path: Path
    size: int
    sha256: str


def default_media_dir(database_url: str) -> Path:
    """Next to the SQLite file (`./hubbub.db` → `./hubbub-media`); otherwise `./hubbub-media`."""
    url = sqlalchemy_url(database_url)
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[1] if ":///" in url else ""
        path = path.split("?", 1)[0]
        if path and path != ":memory:":
            db = Path(path)
            return db.with_name(f"{db.stem}-media")
    return Path("hubbub-media")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class MediaFiles:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.tmp = self.root / "tmp"

    def open(self) -> None:
        """Drop uploads a crash interrupted. (Directories are created by the first upload, so a server
        that never stores media leaves nothing on disk.)"""
        if not self.tmp.is_dir():
            return
        for leftover in self.tmp.glob("*.tmp"):
            try:
                leftover.unlink()
            except OSError:
                log.warning("could not remove interrupted upload %s", leftover)

    def path_for(self, sid: str) -> Path:
        return self.root / sid[2:4].lower() / sid

    async def receive(self, sid: str, chunks: AsyncIterator[bytes], max_bytes: int) -> Stored:
        """Stream `chunks` to disk as the file of `sid`; durable (fsynced and renamed) when this returns.

        Raises UploadTooLarge past `max_bytes` and UploadEmpty for no bytes; nothing stays on disk then.
        """
        tmp = self.tmp / f"{sid}.{secrets.token_hex(4)}.tmp"
        handle: BinaryIO = await asyncio.to_thread(self._create, tmp)
        digest = hashlib.sha256()
        size = 0
        pending = bytearray()
        try:
            async for chunk in chunks:
                if not chunk:
                    continue
                size += len(chunk)
                if size > max_bytes:
                    raise UploadTooLarge
                pending += chunk
                if len(pending) >= WRITE_CHUNK:
                    data = bytes(pending)
                    pending.clear()
                    await asyncio.to_thread(_write, handle, digest, data)
            if pending:
                await asyncio.to_thread(_write, handle, digest, bytes(pending))
            if size == 0:
                raise UploadEmpty
            final = self.path_for(sid)
            await asyncio.to_thread(self._commit, handle, tmp, final)
        except BaseException:
            await asyncio.to_thread(_discard, handle, tmp)
            raise
        return Stored(final, size, digest.hexdigest())

    def _create(self, tmp: Path) -> BinaryIO:
        self.tmp.mkdir(parents=True, exist_ok=True)
        return open(tmp, "xb")

    def _commit(self, handle: BinaryIO, tmp: Path, final: Path) -> None:
        handle.flush()
        os.fsync(handle.fileno())
        handle.close()
        directory = final.parent
        created = not directory.exists()
        directory.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, final)
        _fsync_dir(directory)
        if created:
            _fsync_dir(self.root)

    def remove(self, sid: str) -> None:
        """Unlink the file of `sid` (blocking; call from a worker thread). A missing file is fine."""
        try:
            self.path_for(sid).unlink()
        except FileNotFoundError:
            pass

    def remove_all(self, sids: list[str]) -> None:
        for sid in sids:
            self.remove(sid)


def _write(handle: BinaryIO, digest: hashlib._Hash, data: bytes) -> None:
    digest.update(data)  # hashlib releases the GIL on large buffers
    handle.write(data)


def _discard(handle: BinaryIO, tmp: Path) -> None:
    try:
        handle.close()
    finally:
        try:
            tmp.unlink()
        except FileNotFoundError:
            pass
