"""SMS encoding and segmentation, checked against answers from Twilio's segment calculator.

Expected values come from shared/reference/sms-segments.md and the calculator's own test suite
(TwilioDevEd/message-segment-calculator, tests/index.test.js).
"""

from __future__ import annotations

import io
import json
import math
import os
import subprocess
import sys
from itertools import accumulate
from pathlib import Path

import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from hubbub import segments_cli
from hubbub.domain.sms_encoding import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    SMART_ENCODING_MAP,
    SegmentInfo,
    SmsPart,
    decode_gsm7,
    decode_inbound,
    decode_ucs2,
    encode_gsm7,
    encode_ucs2,
    encoding_for,
    segments_for,
    smart_encode,
    split_for_sms,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
DIGITS = "1234567890" * 40
FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"  # 11 UTF-16 units, one grapheme
RAINBOW_FLAG = "\U0001f3f3\ufe0f\u200d\U0001f308"  # 5 units
ITALY_FLAG = "\U0001f1ee\U0001f1f9"  # 4 units
GRAPHEME = regex.compile(r"\r|\X")
GSM7_CHARS = [c for c in GSM7_BASIC if c is not None] + list(GSM7_EXTENSION)


# --- segment counts -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "encoding", "segments", "characters"),
    [
        pytest.param(DIGITS[:160], "GSM-7", 1, 160, id="gsm-160"),
        pytest.param(DIGITS[:161], "GSM-7", 2, 161, id="gsm-161"),
        pytest.param(DIGITS[:306], "GSM-7", 2, 306, id="gsm-306"),
        pytest.param(DIGITS[:307], "GSM-7", 3, 307, id="gsm-307"),
        pytest.param("😜" + DIGITS[1:69], "UCS-2", 1, 69, id="ucs2-70-units"),
        pytest.param("😜" + DIGITS[1:70], "UCS-2", 2, 70, id="ucs2-71-units"),
        pytest.param("😜" + DIGITS[1:134], "UCS-2", 3, 134, id="ucs2-3-segments"),
        pytest.param(ITALY_FLAG + DIGITS[1:67], "UCS-2", 1, 67, id="flag-70-units"),
        pytest.param(ITALY_FLAG + DIGITS[1:68], "UCS-2", 2, 68, id="flag-71-units"),
        pytest.param(RAINBOW_FLAG + DIGITS[1:65], "UCS-2", 1, 65, id="zwj-70-units"),
        pytest.param(RAINBOW_FLAG + DIGITS[1:66], "UCS-2", 2, 66, id="zwj-71-units"),
        pytest.param("á" * 70, "UCS-2", 1, 70, id="70-a-acute"),
        pytest.param("á" * 71, "UCS-2", 2, 71, id="71-a-acute"),
        pytest.param("€", "GSM-7", 1, 2, id="euro-costs-2"),
        pytest.param("{", "GSM-7", 1, 2, id="brace-costs-2"),
        pytest.param("\x0c", "GSM-7", 1, 2, id="form-feed-costs-2"),
        pytest.param("€" + DIGITS[:158], "GSM-7", 1, 160, id="escape-fills-160"),
        pytest.param("€" + DIGITS[:159], "GSM-7", 2, 161, id="escape-overflows-160"),
        pytest.param("[" * 80, "GSM-7", 1, 160, id="80-brackets"),
        pytest.param("[" * 153, "GSM-7", 3, 306, id="153-brackets-not-ceil"),
        pytest.param("😀" * 35, "UCS-2", 1, 35, id="35-emoji"),
        pytest.param("😀" * 36, "UCS-2", 2, 36, id="36-emoji"),
        pytest.param("😀" * 67, "UCS-2", 3, 67, id="67-emoji-not-ceil"),
        pytest.param("a" * 57 + FAMILY + "a" * 57, "UCS-2", 3, 115, id="grapheme-never-split"),
        pytest.param("é\u0301\u0301\u0301" + "a" * 66, "UCS-2", 1, 67, id="triple-accent-70-units"),
        pytest.param("é\u0301\u0301\u0301" + "a" * 67, "UCS-2", 2, 68, id="triple-accent-71-units"),
        pytest.param("😀" + "]" * 68, "UCS-2", 1, 69, id="extension-char-is-1-unit-in-ucs2"),
        pytest.param("😀" + "]" * 69, "UCS-2", 2, 70, id="extension-char-71-units"),
        pytest.param("\rabcde\r\n123", "GSM-7", 1, 11, id="crlf-counts-2"),
        pytest.param("x\r\n😀", "UCS-2", 1, 4, id="crlf-2-graphemes-in-ucs2"),
        pytest.param("", "GSM-7", 1, 0, id="empty"),
        pytest.param("a" * 1530, "GSM-7", 10, 1530, id="gsm-1530"),
        pytest.param("a" * 1531, "GSM-7", 11, 1531, id="gsm-1531"),
        pytest.param("a" * 1600, "GSM-7", 11, 1600, id="gsm-1600"),
        pytest.param("😀" * 800, "UCS-2", 25, 800, id="800-emoji"),
        pytest.param("e\u0301", "UCS-2", 1, 1, id="decomposed-accent-is-ucs2"),
        pytest.param("é", "GSM-7", 1, 1, id="precomposed-e-acute-is-gsm"),
        pytest.param("\x1b", "UCS-2", 1, 1, id="escape-control-is-not-gsm"),
        pytest.param("ç", "UCS-2", 1, 1, id="small-c-cedilla-is-not-gsm"),
        pytest.param("Ç", "GSM-7", 1, 1, id="capital-c-cedilla-is-gsm"),
    ],
)
def test_segments_for_matches_the_calculator(
    body: str, encoding: str, segments: int, characters: int
) -> None:
    info = segments_for(body, smart_encoding=False)
    assert (info.encoding, info.segments, info.characters) == (encoding, segments, characters)
    assert segments_for(body).segments == segments  # nothing here is in the smart-encoding map


def test_segment_info_fields() -> None:
    assert segments_for("“€5” 😀") == SegmentInfo(
        encoding="UCS-2",
        segments=1,
        characters=6,
        body='"€5" 😀',
        septets_or_units=7,
        smart_encoded=True,
    )
    assert segments_for("[x]", smart_encoding=False) == SegmentInfo("GSM-7", 1, 5, "[x]", 5, False)


# --- smart encoding -------------------------------------------------------------------------------


def test_smart_encoding_turns_curly_quotes_into_gsm7() -> None:
    body = "“Hello” – it’s ready…"
    on = segments_for(body)
    assert on.body == '"Hello" - it\'s ready...'
    assert (on.encoding, on.smart_encoded, on.characters) == ("GSM-7", True, 23)
    off = segments_for(body, smart_encoding=False)
    assert (off.encoding, off.body, off.smart_encoded, off.characters) == ("UCS-2", body, False, 21)


@pytest.mark.parametrize(
    ("raw", "encoded"),
    [
        ("\u2018x\u2019", "'x'"),
        ("`", "'"),
        ("\t", " " * 7),
        ("\u00a0", "  "),
        ("\u2001", " "),
        ("\u2029", " "),
        ("a\u200bb\u200cc\ufeff", "abc"),
        ("\u00bd", "1/2"),
        ("\u203c", "!!"),
        ("\u2039\u203a", "<>"),  # npm 1.3.0 order, not git a50230f's reversed one
        ("\u2017", "_"),
        ("a\u0303", "a~"),
        ("\uff5b\uff3d", "{]"),
        ("\u1d00\uff21", "AA"),
        ("\u2026\u2026", "......"),
    ],
)
def test_smart_encode_replacements(raw: str, encoded: str) -> None:
    assert smart_encode(raw) == encoded


def test_smart_encode_leaves_non_mapped_characters() -> None:
    assert smart_encode("áçï©™°😀中") == "áçï©™°😀中"


def test_smart_encoding_map_is_the_npm_1_3_0_map() -> None:
    assert len(SMART_ENCODING_MAP) == 271
    assert all(len(key) == 1 for key in SMART_ENCODING_MAP)
    assert all(encoding_for(value) == "GSM-7" for value in SMART_ENCODING_MAP.values())


def test_smart_encoding_is_a_single_pass_over_all_keys() -> None:
    keys = "".join(SMART_ENCODING_MAP)
    assert smart_encode(keys) == "".join(SMART_ENCODING_MAP.values())


def test_extension_replacements_cost_two_septets() -> None:
    assert segments_for("a\u0302").characters == 3  # a + ^ (ESC pair)


def test_smart_encoding_replaces_even_when_body_stays_ucs2() -> None:
    # Calculator semantics: '…' -> '...' although the emoji keeps UCS-2 (2 + 120 units).
    info = segments_for("😀" + "…" * 40)
    assert (info.encoding, info.septets_or_units, info.segments) == ("UCS-2", 122, 2)
    assert segments_for("😀" + "…" * 40, smart_encoding=False).segments == 1


# --- encoding -------------------------------------------------------------------------------------


def test_gsm7_tables() -> None:
    assert len(GSM7_BASIC) == 128 and GSM7_BASIC[0x1B] is None
    assert len(set(GSM7_CHARS)) == 137
    assert {c for c in "`\t\u00a0\u2013…" if encoding_for(c) == "GSM-7"} == set()


@pytest.mark.parametrize(
    ("text", "septets"),
    [
        ("@£$", b"\x00\x01\x02"),
        ("_Ä§à", b"\x11\x5b\x5f\x7f"),
        ("€", b"\x1b\x65"),
        ("{}", b"\x1b\x28\x1b\x29"),
        ("\x0c", b"\x1b\x0a"),
        ("a|b", b"a\x1b\x40b"),
        ("", b""),
    ],
)
def test_encode_gsm7(text: str, septets: bytes) -> None:
    assert encode_gsm7(text) == septets
    assert decode_gsm7(septets) == text


def test_gsm7_round_trips_every_character() -> None:
    text = "".join(GSM7_CHARS)
    encoded = encode_gsm7(text)
    assert len(encoded) == 127 + 2 * 10
    assert max(encoded) <= 0x7F
    assert decode_gsm7(encoded) == text


def test_encode_gsm7_rejects_other_characters() -> None:
    with pytest.raises(UnicodeEncodeError) as caught:
        encode_gsm7("abcé á")
    assert caught.value.start == 5


@pytest.mark.parametrize(
    ("septets", "text"),
    [
        (b"\x1b\x41", "A"),  # ESC + code missing from the extension table: default-alphabet char
        (b"a\x1b\x1bb", "a b"),  # ESC ESC: space
        (b"ab\x1b", "ab "),  # trailing ESC: space
    ],
)
def test_decode_gsm7_escape_fallbacks(septets: bytes, text: str) -> None:
    assert decode_gsm7(septets) == text


def test_decode_gsm7_rejects_octets_above_0x7f() -> None:
    with pytest.raises(UnicodeDecodeError):
        decode_gsm7(b"ab\x80")
    assert decode_gsm7(b"ab\x80", errors="replace") == "ab\ufffd"


def test_ucs2_is_utf16_be() -> None:
    assert encode_ucs2("é😀") == b"\x00\xe9\xd8\x3d\xde\x00"
    assert decode_ucs2(b"\x00\xe9\xd8\x3d\xde\x00") == "é😀"


@pytest.mark.parametrize(
    ("data", "data_coding", "text"),
    [
        (b"\x00\x1b\x65 ok", 0, "@€ ok"),
        (b"Hello", 1, "Hello"),
        (b"caf\xe9", 3, "café"),
        (b"\x00\xe9\xd8\x3d\xde\x00", 8, "é😀"),
        (b"\x00\xe9\xd8", 8, "é\ufffd"),
    ],
)
def test_decode_inbound(data: bytes, data_coding: int, text: str) -> None:
    assert decode_inbound(data, data_coding) == text


def test_decode_inbound_rejects_unknown_data_coding() -> None:
    with pytest.raises(ValueError):
        decode_inbound(b"\x01\x02", 4)


# --- splitting ------------------------------------------------------------------------------------


def test_single_part_has_no_udh() -> None:
    assert split_for_sms("Hi €", ref=9) == [
        SmsPart(data_coding=0, udh=b"", payload=b"Hi \x1b\x65", text="Hi €"),
    ]
    assert split_for_sms("Hi 😀", ref=9) == [
        SmsPart(data_coding=8, udh=b"", payload=b"\x00H\x00i\x00 \xd8\x3d\xde\x00", text="Hi 😀")
    ]


def test_escape_pair_at_the_153_boundary_moves_to_the_next_part() -> None:
    parts = split_for_sms("a" * 152 + "€" + "b" * 10, ref=0x42)
    assert [p.text for p in parts] == ["a" * 152, "€" + "b" * 10]
    assert [len(p.payload) for p in parts] == [152, 12]
    assert parts[1].payload.startswith(b"\x1b\x65")
    assert [p.udh for p in parts] == [bytes.fromhex("0500034202 01"), bytes.fromhex("0500034202 02")]


def test_surrogate_pair_at_the_67_boundary_moves_to_the_next_part() -> None:
    parts = split_for_sms("a" * 66 + "😀" + "b" * 5, ref=1)
    assert [p.text for p in parts] == ["a" * 66, "😀bbbbb"]
    assert [len(p.payload) // 2 for p in parts] == [66, 7]
    assert {p.data_coding for p in parts} == {8}


def test_three_part_udh() -> None:
    parts = split_for_sms("x" * 400, ref=0xAB)
    assert [p.udh.hex() for p in parts] == ["050003ab0301", "050003ab0302", "050003ab0303"]
    assert [len(p.payload) for p in parts] == [153, 153, 94]


def test_split_applies_smart_encoding_unless_disabled() -> None:
    assert split_for_sms("it’s", ref=0)[0].payload == b"it's"
    assert split_for_sms("it’s", smart_encoding=False, ref=0)[0].data_coding == 8


def test_grapheme_bigger_than_a_segment_falls_back_to_code_points() -> None:
    body = "e" + "\u0301" * 100  # one grapheme of 101 units
    info = segments_for(body)
    parts = split_for_sms(body, ref=3)
    assert (info.characters, info.segments, len(parts)) == (1, 2, 2)
    assert [len(p.payload) // 2 for p in parts] == [67, 34]
    assert "".join(p.text for p in parts) == body


def test_oversized_cluster_of_astral_characters_keeps_surrogate_pairs_whole() -> None:
    body = "\U0001f3f4" + "\U000e0061" * 40  # black flag + 40 tag characters: one cluster of 82 units
    parts = split_for_sms(body, ref=3)
    assert [len(p.payload) // 2 for p in parts] == [66, 16]
    assert "".join(p.text for p in parts) == body


@pytest.mark.parametrize("ref", [-1, 256])
def test_split_rejects_bad_reference(ref: int) -> None:
    with pytest.raises(ValueError):
        split_for_sms("hi", ref=ref)


def test_split_rejects_more_than_255_parts() -> None:
    with pytest.raises(ValueError):
        split_for_sms("a" * (153 * 255 + 1), ref=0)


# --- properties -----------------------------------------------------------------------------------

_EMOJI = ["😀", ITALY_FLAG, RAINBOW_FLAG, FAMILY, "1\ufe0f\u20e3", "e\u0301", "\r\n"]
_bodies = st.lists(
    st.one_of(
        st.sampled_from(GSM7_CHARS),
        st.sampled_from(list(GSM7_EXTENSION)),
        st.sampled_from(list(SMART_ENCODING_MAP)),
        st.sampled_from(_EMOJI),
        st.characters(exclude_categories=["Cs"]),
    ),
    max_size=400,
).map("".join)
_gsm_bodies = st.lists(st.sampled_from(GSM7_CHARS), max_size=700).map("".join)


def _item_cost(item: str, encoding: str) -> int:
    if encoding == "GSM-7":
        return len(encode_gsm7(item))
    return len(encode_ucs2(item)) // 2


def _calculator_segment_count(items: list[str], encoding: str) -> int:
    """Independent oracle: the retro-fitting fill of the spec's section 5, in bits."""
    segment_bits, udh_bits = 1120, 48
    unit_bits = 7 if encoding == "GSM-7" else 16
    segments: list[tuple[bool, list[int]]] = [(False, [])]
    for item in items:
        bits = unit_bits * _item_cost(item, encoding)
        has_udh, current = segments[-1]
        if segment_bits - (udh_bits if has_udh else 0) - sum(current) < bits:
            moved: list[int] = []
            if not has_udh:
                segments[-1] = (True, current)
                while segment_bits - udh_bits - sum(current) < 0:
                    moved.insert(0, current.pop())
            segments.append((True, moved))
            current = moved
        current.append(bits)
    return len(segments)


def _max_size(encoding: str, total: int) -> int:
    if encoding == "GSM-7":
        return 160 if total == 1 else 153
    return 70 if total == 1 else 67


@settings(max_examples=300, deadline=None)
@given(body=_bodies, smart=st.booleans(), ref=st.integers(0, 255))
def test_split_properties(body: str, smart: bool, ref: int) -> None:
    info = segments_for(body, smart_encoding=smart)
    parts = split_for_sms(body, smart_encoding=smart, ref=ref)
    total = len(parts)

    assert total == info.segments
    assert "".join(p.text for p in parts) == info.body
    gsm = info.encoding == "GSM-7"
    for seq, part in enumerate(parts, start=1):
        assert part.data_coding == (0 if gsm else 8)
        assert part.udh == (b"" if total == 1 else bytes((5, 0, 3, ref, total, seq)))
        assert part.payload == (encode_gsm7(part.text) if gsm else encode_ucs2(part.text))
        size = len(part.payload) if gsm else len(part.payload) // 2
        assert size <= _max_size(info.encoding, total)
        if gsm:  # no ESC left dangling at the end of a part
            assert decode_gsm7(part.payload) == part.text
            assert part.payload.count(0x1B) == sum(c in GSM7_EXTENSION for c in part.text)
        else:  # strict UTF-16 decoding fails on a split surrogate pair
            assert decode_ucs2(part.payload) == part.text

    if gsm:
        assert info.characters == info.septets_or_units == len(encode_gsm7(info.body))
        items = list(info.body)
    else:
        graphemes = GRAPHEME.findall(info.body)
        assert info.characters == len(graphemes)
        if any(len(encode_ucs2(g)) // 2 > 67 for g in graphemes):
            return  # such a cluster is split into code points, see the example test above
        boundaries = set(accumulate(map(len, graphemes), initial=0))
        assert set(accumulate((len(p.text) for p in parts), initial=0)) <= boundaries
        items = graphemes
    if all(_item_cost(item, info.encoding) <= 16 for item in items):
        assert total == _calculator_segment_count(items, info.encoding)


@given(body=_gsm_bodies)
def test_gsm_segments_without_escapes_follow_the_closed_form(body: str) -> None:
    plain = "".join(c for c in body if c not in GSM7_EXTENSION)
    n = len(plain)
    assert segments_for(plain).segments == (1 if n <= 160 else math.ceil(n / 153))


@given(body=_gsm_bodies)
def test_parts_are_filled_greedily(body: str) -> None:
    parts = split_for_sms(body, ref=0)
    if len(parts) > 1:
        for part, following in zip(parts, parts[1:], strict=False):
            assert len(part.payload) + len(encode_gsm7(following.text[0])) > 153


# --- CLI ------------------------------------------------------------------------------------------


def _run_cli(*args: str, stdin: str | None = None) -> dict[str, object]:
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    completed = subprocess.run(
        [sys.executable, "-m", "hubbub.segments_cli", *args],
        input=stdin,
        capture_output=True,
        encoding="utf-8",
        env=env,
        cwd=REPO_ROOT,
        check=True,
        timeout=60,
    )
    lines = completed.stdout.splitlines()
    assert len(lines) == 1
    result: dict[str, object] = json.loads(lines[0])
    return result


def test_cli_text_argument() -> None:
    result = _run_cli("It’s “fine” 👍")
    assert result["encoding"] == "UCS-2"
    assert result["body"] == 'It\'s "fine" 👍'
    assert result["smart_encoding"] is True
    assert (result["segments"], result["characters"]) == (1, 13)


def test_cli_without_smart_encoding_reads_stdin() -> None:
    result = _run_cli("--no-smart-encoding", stdin="it’s\r\n" + "x" * 70 + "\n")
    assert result["encoding"] == "UCS-2"
    assert result["smart_encoding"] is False
    assert result["body"] == "it’s\r\n" + "x" * 70
    assert (result["characters"], result["segments"]) == (76, 2)


def test_cli_main_in_process(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("{x}\n"))
    assert segments_cli.main([]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["body"] == "{x}"
    assert (result["encoding"], result["segments"], result["characters"]) == ("GSM-7", 1, 5)


def test_cli_usage_error() -> None:
    with pytest.raises(SystemExit) as caught:
        segments_cli.main(["--bogus"])
    assert caught.value.code == 2
