"""`X-Twilio-Signature`, computed exactly as Twilio does, so handlers that validate it with the helper
libraries' `RequestValidator` accept Hubbub's requests.

The signed string is the full URL as requested (scheme, host, path, query) followed, for a POST, by each
form parameter's name and value in sorted order (for a repeated name, each value in sorted order); the
signature is base64(HMAC-SHA1(key = the account's Auth Token, message = that string)). A GET carries its
parameters in the query string, so the URL alone is signed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterable
from functools import lru_cache
from urllib.parse import quote_plus


def signature(auth_token: str, url: str, params: Iterable[tuple[str, str]] = ()) -> str:
    # sorted by name, and a repeated name's values sorted too; identical pairs count once (as Twilio's
    # validators do: they iterate over sets)
    message = url + "".join(name + value for name, value in sorted(set(params)))
    digest = hmac.digest(auth_token.encode("utf-8"), message.encode("utf-8"), hashlib.sha1)
    return base64.b64encode(digest).decode("ascii")


_SAFE = re.compile(r"[A-Za-z0-9_.~-]*").fullmatch


@lru_cache(maxsize=1024)
def _quote_name(name: str) -> str:
    return quote_plus(name)


def form_encode(params: Iterable[tuple[str, str]]) -> str:
    """`urllib.parse.urlencode` for (name, str) pairs, faster: SIDs, numbers and the like need no quoting."""
    return "&".join(f"{_quote_name(n)}={v if _SAFE(v) else quote_plus(v)}" for n, v in params)


def url_with_query(url: str, params: Iterable[tuple[str, str]]) -> str:
    """The URL of a GET webhook: the parameters appended to any query string the URL already has."""
    url = without_fragment(url)
    query = form_encode(params)
    if not query:
        return url
    return url + ("&" if "?" in url else "?") + query


def without_fragment(url: str) -> str:
    """A `#…` fragment never reaches the receiver (Twilio uses it for connection overrides), so it is
    neither sent nor signed."""
    return url.partition("#")[0]


def signed_request(auth_token: str, method: str, url: str, params: list[tuple[str, str]]
                   ) -> tuple[str, bytes | None, dict[str, str]]:
    """(the URL to request, the body, the headers) of a signed webhook request."""
    if method == "GET":
        full = url_with_query(url, params)
        return full, None, {"X-Twilio-Signature": signature(auth_token, full)}
    url = without_fragment(url)
    body = form_encode(params).encode("utf-8")
    return url, body, {"X-Twilio-Signature": signature(auth_token, url, params),
                       "Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
