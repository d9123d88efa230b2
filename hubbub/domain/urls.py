"""Webhook target URLs given through the API: absolute `http`/`https` URLs."""

from __future__ import annotations

from urllib.parse import urlsplit

from hubbub.errors import InvalidParameter

MAX_URL = 1024


def check_webhook_url(value: str, name: str) -> str:
    """`value` if it is an absolute http(s) URL with a host, else a 400 naming the parameter."""
    if len(value) > MAX_URL:
        raise InvalidParameter(f"Invalid {name}: longer than {MAX_URL} characters")
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        raise InvalidParameter(f"Invalid {name}: a URL cannot contain spaces or control characters")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        raise InvalidParameter(f"Invalid {name}: '{value[:64]}' is not a valid URL") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise InvalidParameter(f"Invalid {name}: '{value[:64]}' is not an absolute http or https URL")
    return value
