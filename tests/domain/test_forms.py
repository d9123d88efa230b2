"""Twilio's form encoding: `Form.parse` must read a body exactly as `urllib.parse.parse_qsl` does."""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hubbub.api.forms import MAX_FIELDS, Form
from hubbub.errors import InvalidParameter

# Bodies built from the characters that matter to the codec, plus arbitrary text.
_PIECES = st.sampled_from(["&", "=", "+", "%", "%2", "%41", "%e2%82%ac", "%FF", "%00", "a", "B", " ", "é", "="])
_BODIES = st.one_of(st.lists(_PIECES, max_size=30).map("".join), st.text(max_size=60))


def _reference(raw: str) -> dict[str, list[str]] | type[Exception]:
    try:
        pairs = parse_qsl(raw, keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        return UnicodeDecodeError
    fields: dict[str, list[str]] = {}
    for key, value in pairs:
        if "\x00" in key or "\x00" in value:
            return InvalidParameter
        fields.setdefault(key, []).append(value)
    return fields


@settings(max_examples=1500, deadline=None)
@given(_BODIES)
def test_parse_matches_parse_qsl(raw: str) -> None:
    expected = _reference(raw)
    if isinstance(expected, dict):
        assert Form.parse(raw).items() == expected
    else:
        with pytest.raises(InvalidParameter):
            Form.parse(raw)


def test_repeated_keys_blank_values_and_plus() -> None:
    form = Form.parse("MediaSid=ME1&MediaSid=ME2&Body=a+b%2Bc&Empty=&Bare&&")
    assert form.items() == {"MediaSid": ["ME1", "ME2"], "Body": ["a b+c"], "Empty": [""], "Bare": [""]}


def test_field_limit() -> None:
    Form.parse("&".join(f"k{i}=v" for i in range(MAX_FIELDS)))
    with pytest.raises(InvalidParameter, match="Too many parameters"):
        Form.parse("&".join(f"k{i}=v" for i in range(MAX_FIELDS + 1)))
