"""Webhook and timer settings from `HUBBUB_*` environment variables (documented in docs/webhooks.md)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from hubbub.domain.durations import parse_duration

# Reaches about a day (23 h 52 min after the first attempt), then the delivery is parked as failed.
DEFAULT_RETRY_SCHEDULE = "10s,30s,1m,5m,15m,30m,1h,2h,4h,8h,8h"

_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_SPAN = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$")


def parse_span(text: str, name: str) -> float:
    """Seconds in `250ms`, `10s`, `1.5`, `5m`, `2h`, `7d` or an ISO 8601 duration (`PT5M`, `P7D`)."""
    value = text.strip()
    match = _SPAN.match(value)
    if match:
        return float(match.group(1)) * _UNIT[match.group(2) or "s"]
    seconds = parse_duration(value)
    if seconds is None:
        raise ValueError(f"{name}: '{text}' is not a duration (e.g. 10s, 250ms, 5m, 2h, 7d or PT5M)")
    return float(seconds)


def parse_schedule(text: str) -> tuple[float, ...]:
    """`HUBBUB_WEBHOOK_RETRY_SCHEDULE`: the waits before each retry, comma-separated."""
    waits = tuple(parse_span(part, "HUBBUB_WEBHOOK_RETRY_SCHEDULE") for part in text.split(",") if part.strip())
    return waits


def _env(name: str, default: str) -> str:
    value = os.environ.get(name)
    return default if value in (None, "") else value  # type: ignore[return-value]


def _flag(name: str, default: bool) -> bool:
    return _env(name, "1" if default else "0").strip().lower() in ("1", "true", "yes", "on")


@dataclass
class WebhookSettings:
    # Post-action request timeout (Twilio's maximum webhook timeout is 5 s).
    timeout: float = field(default_factory=lambda: parse_span(_env("HUBBUB_WEBHOOK_TIMEOUT", "5s"),
                                                              "HUBBUB_WEBHOOK_TIMEOUT"))
    # Pre-action: no answer within this time → the action proceeds unmodified (Twilio: 5 s).
    pre_timeout: float = field(default_factory=lambda: parse_span(_env("HUBBUB_PRE_WEBHOOK_TIMEOUT", "5s"),
                                                                  "HUBBUB_PRE_WEBHOOK_TIMEOUT"))
    retry_schedule: tuple[float, ...] = field(
        default_factory=lambda: parse_schedule(_env("HUBBUB_WEBHOOK_RETRY_SCHEDULE", DEFAULT_RETRY_SCHEDULE)))
    # Requests in flight at once (per process).
    concurrency: int = field(default_factory=lambda: int(_env("HUBBUB_WEBHOOK_CONCURRENCY", "64")))
    # How often the queue is checked for deliveries that no local commit announced (other processes,
    # the CLI's replay). Local commits wake the dispatcher at once.
    poll_interval: float = field(default_factory=lambda: parse_span(_env("HUBBUB_WEBHOOK_POLL_INTERVAL", "1s"),
                                                                    "HUBBUB_WEBHOOK_POLL_INTERVAL"))
    # PostgreSQL: how long a claimed delivery stays reserved for the process that claimed it without being
    # renewed; after a crash, another process (or the restarted one) takes it over after this.
    lease: float = field(default_factory=lambda: parse_span(_env("HUBBUB_WEBHOOK_LEASE", "30s"),
                                                            "HUBBUB_WEBHOOK_LEASE"))
    # Delivery log: attempts and finished deliveries older than this are purged.
    log_retention: float = field(default_factory=lambda: parse_span(
        _env("HUBBUB_WEBHOOK_LOG_RETENTION", "7d"), "HUBBUB_WEBHOOK_LOG_RETENTION"))
    purge_interval: float = field(default_factory=lambda: parse_span(
        _env("HUBBUB_WEBHOOK_PURGE_INTERVAL", "10m"), "HUBBUB_WEBHOOK_PURGE_INTERVAL"))
    # Studio targets post here, with {AccountSid} and {FlowSid} substituted; unset → reported unsupported.
    studio_flow_url: str | None = field(default_factory=lambda: os.environ.get("HUBBUB_STUDIO_FLOW_URL") or None)
    # Off: this process records deliveries but does not send them (another process does).
    dispatch: bool = field(default_factory=lambda: _flag("HUBBUB_WEBHOOK_DISPATCH", True))
    # Where post-action requests are sent from: `process`, a child process that `hubbub serve` starts and
    # restarts (the API's event loop keeps only the database work of a delivery), or `inline`, the server
    # process itself (one process; what an injected httpx transport uses).
    sender: str = field(default_factory=lambda: _env("HUBBUB_WEBHOOK_SENDER", "process").strip().lower())
    # CPUs the sender process runs on (`1`, `2-3`, `0,2`); unset: wherever the server may run.
    sender_cpus: str | None = field(default_factory=lambda: os.environ.get("HUBBUB_WEBHOOK_SENDER_CPUS") or None)
    # On: the test clock endpoint `/hubbub/v1/Testing/Clock` exists. Never in production.
    testing: bool = field(default_factory=lambda: _flag("HUBBUB_TESTING", False))

    def __post_init__(self) -> None:
        if self.timeout <= 0 or self.pre_timeout <= 0:
            raise ValueError("webhook timeouts must be positive")
        if self.concurrency < 1:
            raise ValueError("HUBBUB_WEBHOOK_CONCURRENCY must be at least 1")
        if self.sender not in ("process", "inline"):
            raise ValueError("HUBBUB_WEBHOOK_SENDER must be 'process' or 'inline'")
        if self.sender_cpus is not None:
            from hubbub.webhooks.sender import parse_cpus

            parse_cpus(self.sender_cpus)
        if self.lease < 1:
            raise ValueError("HUBBUB_WEBHOOK_LEASE must be at least 1s")
