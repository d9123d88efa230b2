"""Settings from command-line flags and `HUBBUB_*` environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass, field


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


@dataclass
class Settings:
    host: str = field(default_factory=lambda: _env("HUBBUB_HOST", "127.0.0.1") or "127.0.0.1")
    port: int = field(default_factory=lambda: int(_env("HUBBUB_PORT", "8080") or 8080))
    database_url: str = field(
        default_factory=lambda: _env("HUBBUB_DATABASE_URL", "sqlite:///./hubbub.db") or "")
    account_sid: str | None = field(default_factory=lambda: _env("HUBBUB_ACCOUNT_SID"))
    auth_token: str | None = field(default_factory=lambda: _env("HUBBUB_AUTH_TOKEN"))
    # Absolute origin used in `url`, `links` and page URLs; by default taken from each request.
    public_url: str | None = field(default_factory=lambda: _env("HUBBUB_PUBLIC_URL"))
    # SQLite `PRAGMA synchronous`: FULL fsyncs every commit (group commit amortises it).
    sqlite_synchronous: str = field(
        default_factory=lambda: (_env("HUBBUB_SQLITE_SYNCHRONOUS", "FULL") or "FULL").upper())
    log_level: str = field(default_factory=lambda: _env("HUBBUB_LOG_LEVEL", "info") or "info")
    # SMS over SMPP: a TOML/JSON file path or inline JSON (docs/sms.md); unset means no SMS worker.
    sms_config: str | None = field(default_factory=lambda: _env("HUBBUB_SMS_CONFIG"))
    # Media store (docs/compatibility.md "Media"): where uploaded bytes live (default: a directory next to
    # the SQLite file, or ./hubbub-media; several servers on one PostgreSQL need one shared directory),
    # and the largest upload accepted (Twilio: 150 MB between chat participants).
    media_dir: str | None = field(default_factory=lambda: _env("HUBBUB_MEDIA_DIR"))
    media_max_bytes: int = field(
        default_factory=lambda: int(_env("HUBBUB_MEDIA_MAX_BYTES", "157286400") or 157286400))
