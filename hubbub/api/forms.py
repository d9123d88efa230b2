"""Twilio's request encoding: form fields with PascalCase and dotted names, repeated keys for lists.

`Form` gives typed, validated access to the fields; every getter raises `InvalidParameter` (400) with the
parameter's name so nothing is ever written from a malformed request.
"""

from __future__ import annotations

from collections.abc import Collection
from urllib.parse import unquote

import orjson

from hubbub.domain import clock
from hubbub.domain.sids import is_sid
from hubbub.errors import InvalidParameter

MAX_FIELDS = 1000
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1


def _decode(text: str) -> str:
    if "+" in text:
        text = text.replace("+", " ")
    # strict: a percent-encoded byte sequence that is not UTF-8 is refused, not stored as U+FFFD
    return unquote(text, errors="strict") if "%" in text else text


def _pairs(raw: str) -> list[tuple[str, str]]:
    """`urllib.parse.parse_qsl(raw, keep_blank_values=True, errors="strict")`, pair for pair.

    Written out because parse_qsl's argument coercion and per-pair checks were a tenth of a message
    create's time on the event loop (bench/README.md); tests/domain/test_forms.py checks the two agree.
    """
    pairs = []
    for item in raw.split("&"):
        if not item:
            continue
        key, _, value = item.partition("=")
        pairs.append((_decode(key), _decode(value)))
    return pairs


class Form:
    __slots__ = ("_fields",)

    def __init__(self, fields: dict[str, list[str]]) -> None:
        self._fields = fields

    @classmethod
    def parse(cls, raw: str) -> Form:
        if raw.count("&") >= MAX_FIELDS:
            raise InvalidParameter(f"Too many parameters (at most {MAX_FIELDS})")
        try:
            pairs = _pairs(raw)
        except UnicodeDecodeError:
            raise InvalidParameter("The request body is not valid UTF-8 once percent-decoded") from None
        fields: dict[str, list[str]] = {}
        for key, value in pairs:
            if "\x00" in value or "\x00" in key:
                raise InvalidParameter(f"Invalid {key}: NUL characters are not allowed")
            fields.setdefault(key, []).append(value)
        return cls(fields)

    def __contains__(self, name: str) -> bool:
        return name in self._fields

    def has_any(self, *names: str) -> bool:
        return any(n in self._fields for n in names)

    def items(self) -> dict[str, list[str]]:
        return self._fields

    def canonical(self) -> bytes:
        """A stable encoding of the whole form, used to fingerprint idempotent requests."""
        return orjson.dumps(sorted(self._fields.items()))

    # -- typed getters -----------------------------------------------------------------------------
    def str(self, name: str, *, max_len: int | None = None, required: bool = False,
            allow_empty: bool = True) -> str | None:
        values = self._fields.get(name)
        if not values:
            if required:
                raise InvalidParameter(f"Missing required parameter {name} in the post body")
            return None
        value = values[-1]
        if not allow_empty and value == "":
            raise InvalidParameter(f"Invalid {name}: must not be empty")
        if max_len is not None and len(value) > max_len:
            raise InvalidParameter(f"Invalid {name}: longer than {max_len} characters")
        return value

    def list(self, name: str, *, max_items: int = 100, max_len: int = 1024) -> list[str] | None:
        values = self._fields.get(name)
        if values is None:
            return None
        if len(values) > max_items:
            raise InvalidParameter(f"Invalid {name}: at most {max_items} values")
        for value in values:
            if len(value) > max_len:
                raise InvalidParameter(f"Invalid {name}: a value is longer than {max_len} characters")
        return values

    def json_text(self, name: str, *, max_bytes: int) -> str | None:
        """A JSON document sent as a string (`Attributes`): must parse, and fit in `max_bytes`."""
        value = self.str(name)
        if value is None:
            return None
        if len(value.encode("utf-8", "surrogatepass")) > max_bytes:
            raise InvalidParameter(f"Invalid {name}: larger than {max_bytes} bytes", code=50006)
        try:
            orjson.loads(value)
        except orjson.JSONDecodeError:
            raise InvalidParameter(f"Invalid {name}: the value must be valid JSON", code=50006) from None
        return value

    def enum(self, name: str, allowed: Collection[str]) -> str | None:
        value = self.str(name)
        if value is not None and value not in allowed:
            raise InvalidParameter(f"Invalid {name}: '{value[:64]}' is not one of {', '.join(sorted(allowed))}")
        return value

    def boolean(self, name: str) -> bool | None:
        value = self.str(name)
        if value is None:
            return None
        lowered = value.lower()
        if lowered in ("true", "1"):
            return True
        if lowered in ("false", "0"):
            return False
        raise InvalidParameter(f"Invalid {name}: '{value[:64]}' is not a boolean")

    def integer(self, name: str, *, minimum: int | None = None, maximum: int | None = None) -> int | None:
        value = self.str(name)
        if value is None:
            return None
        text = value.strip()
        if not text.lstrip("-").isdigit() or len(text) > 19:
            raise InvalidParameter(f"Invalid {name}: '{value[:64]}' is not an integer")
        number = int(text)
        if not INT64_MIN <= number <= INT64_MAX:
            raise InvalidParameter(f"Invalid {name}: out of range")
        if minimum is not None and number < minimum:
            raise InvalidParameter(f"Invalid {name}: must be at least {minimum}")
        if maximum is not None and number > maximum:
            raise InvalidParameter(f"Invalid {name}: must be at most {maximum}")
        return number

    def datetime(self, name: str) -> int | None:
        value = self.str(name, max_len=64)
        return None if value is None else clock.parse_datetime(value, name)

    def sid(self, name: str, prefix: str) -> str | None:
        value = self.str(name)
        if value is not None and not is_sid(value, prefix):
            raise InvalidParameter(f"Invalid {name}: '{value[:64]}' is not a valid {prefix} SID")
        return value
