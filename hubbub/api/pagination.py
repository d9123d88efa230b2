"""Twilio list envelopes with keyset paging.

`PageToken` is an opaque cursor: `PA<key>` continues after a key, `PB<key>` pages back before one.
Page URLs are absolute, carry the list's filters, and point back at this server, because the SDKs
fetch `meta.next_page_url` verbatim.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Column, Connection, Select

from hubbub.api.http import Call
from hubbub.errors import InvalidParameter

DEFAULT_PAGE_SIZE = 50


class PageRequest:
    def __init__(self, call: Call, max_size: int, default: int = DEFAULT_PAGE_SIZE) -> None:
        query = call.query
        self.size = _int_param(query.get("PageSize"), "PageSize", default)
        if self.size < 1:
            raise InvalidParameter("Invalid PageSize: must be at least 1")
        self.size = min(self.size, max_size)
        self.page = _int_param(query.get("Page"), "Page", 0)
        if self.page < 0:
            raise InvalidParameter("Invalid Page: must be at least 0")
        token = query.get("PageToken")
        self.after: int | None = None
        self.before: int | None = None
        if token:
            if len(token) < 3 or token[:2] not in ("PA", "PB") or not token[2:].lstrip("-").isdigit() \
                    or len(token) > 24:
                raise InvalidParameter("Invalid PageToken")
            if token[:2] == "PA":
                self.after = int(token[2:])
            else:
                self.before = int(token[2:])

    def fetch(self, conn: Connection, query: Select[Any], key: Column[Any], *, descending: bool = False
              ) -> tuple[Sequence[Any], bool, bool]:
        """Rows of this page, whether a next page exists and whether a previous one does."""
        backwards = self.before is not None
        if self.after is not None:
            query = query.where(key < self.after if descending else key > self.after)
        if self.before is not None:
            query = query.where(key > self.before if descending else key < self.before)
        ascending = descending == backwards
        query = query.order_by(key.asc() if ascending else key.desc()).limit(self.size + 1)
        rows = list(conn.execute(query).mappings())
        more = len(rows) > self.size
        rows = rows[: self.size]
        if backwards:
            rows.reverse()
            return rows, True, more
        return rows, more, self.after is not None


def envelope(call: Call, key: str, page: PageRequest, rows: Sequence[Any], has_next: bool, has_prev: bool,
             cursor: Callable[[Any], int], render: Callable[[Any], dict[str, Any]],
             filters: dict[str, str] | None = None) -> dict[str, Any]:
    path = call.request.url.path
    base = call.url(path)
    params = dict(filters or {})

    def page_url(page_no: int, token: str | None = None) -> str:
        q = dict(params, PageSize=str(page.size), Page=str(page_no))
        if token:
            q["PageToken"] = token
        return f"{base}?{urlencode(q)}"

    current_token = call.query.get("PageToken")
    return {
        key: [render(row) for row in rows],
        "meta": {
            "page": page.page,
            "page_size": page.size,
            "first_page_url": page_url(0),
            "previous_page_url": page_url(max(page.page - 1, 0), f"PB{cursor(rows[0])}")
            if has_prev and rows else None,
            "url": page_url(page.page, current_token),
            "next_page_url": page_url(page.page + 1, f"PA{cursor(rows[-1])}") if has_next and rows else None,
            "key": key,
        },
    }


def _int_param(value: str | None, name: str, default: int) -> int:
    if value is None or value == "":
        return default
    if not value.isdigit() or len(value) > 9:
        raise InvalidParameter(f"Invalid {name}: '{value[:32]}' is not a non-negative integer")
    return int(value)
