"""GSM-7 / UCS-2 SMS encoding, Twilio Smart Encoding and segmentation.

Pure functions, no I/O. Segment counts follow Twilio's public message segment
calculator (TwilioDevEd/message-segment-calculator), see
shared/reference/sms-segments.md:

* Smart Encoding replaces each code point through ``SMART_ENCODING_MAP``
  unconditionally (the calculator's semantics, not the all-or-nothing rule of
  Twilio's 2017 launch blog).
* A body is GSM-7 iff every code point is in the GSM 03.38 default alphabet or
  its extension table; one other character makes the whole body UCS-2.
* GSM-7 costs 1 septet per character, 2 for extension characters
  (ESC + code); UCS-2 costs UTF-16 code units (2 for astral characters).
* One segment holds 160 septets / 70 units. Longer bodies are filled greedily
  with 153 septets / 67 units per segment (room for the 6-octet concatenation
  UDH); an escape pair, a surrogate pair and (in UCS-2) an extended grapheme
  cluster are never split, so a segment may carry less than its maximum.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from itertools import accumulate, pairwise
from typing import Final, Literal

import regex

Encoding = Literal["GSM-7", "UCS-2"]
DecodeErrors = Literal["strict", "replace"]
Cut = Callable[[int, int], int]  # (part start, furthest end) -> end that splits nothing

GSM7_SINGLE_SEPTETS: Final = 160
GSM7_MULTI_SEPTETS: Final = 153
UCS2_SINGLE_UNITS: Final = 70
UCS2_MULTI_UNITS: Final = 67
MAX_PARTS: Final = 255  # the 8-bit concatenation UDH numbers parts 1..255

# SMPP data_coding values.
DATA_CODING_DEFAULT: Final = 0  # SMSC default alphabet, GSM 03.38 here
DATA_CODING_IA5: Final = 1
DATA_CODING_LATIN1: Final = 3
DATA_CODING_UCS2: Final = 8

GSM7_ESCAPE: Final = 0x1B

# fmt: off
# GSM 03.38 default alphabet, indexed by septet value; 0x1B is ESC, not a character.
GSM7_BASIC: Final[tuple[str | None, ...]] = (
    "@", "£", "$", "¥", "è", "é", "ù", "ì", "ò", "Ç", "\n", "Ø", "ø", "\r", "Å", "å",  # 0x00-0x0F
    "Δ", "_", "Φ", "Γ", "Λ", "Ω", "Π", "Ψ", "Σ", "Θ", "Ξ", None, "Æ", "æ", "ß", "É",  # 0x10-0x1F
    " ", "!", "\"", "#", "¤", "%", "&", "'", "(", ")", "*", "+", ",", "-", ".", "/",  # 0x20-0x2F
    "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", ":", ";", "<", "=", ">", "?",  # 0x30-0x3F
    "¡", "A", "B", "C", "D", "E", "F", "G", "H", "I", "J", "K", "L", "M", "N", "O",  # 0x40-0x4F
    "P", "Q", "R", "S", "T", "U", "V", "W", "X", "Y", "Z", "Ä", "Ö", "Ñ", "Ü", "§",  # 0x50-0x5F
    "¿", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o",  # 0x60-0x6F
    "p", "q", "r", "s", "t", "u", "v", "w", "x", "y", "z", "ä", "ö", "ñ", "ü", "à",  # 0x70-0x7F
)

# Extension (single-shift) table: sent as ESC + code, so each costs 2 septets.
GSM7_EXTENSION: Final[dict[str, int]] = {
    "\x0c": 0x0A, "^": 0x14, "{": 0x28, "}": 0x29, "\\": 0x2F,
    "[": 0x3C, "~": 0x3D, "]": 0x3E, "|": 0x40, "€": 0x65,
}
# fmt: on

# Twilio Smart Encoding replacements, as in npm sms-segments-calculator 1.3.0.
SMART_ENCODING_MAP: Final[dict[str, str]] = {
    "\u00ab": '"',  # LEFT-POINTING DOUBLE ANGLE QUOTATION MARK
    "\u00bb": '"',  # RIGHT-POINTING DOUBLE ANGLE QUOTATION MARK
    "\u201c": '"',  # LEFT DOUBLE QUOTATION MARK
    "\u201d": '"',  # RIGHT DOUBLE QUOTATION MARK
    "\u02ba": '"',  # MODIFIER LETTER DOUBLE PRIME
    "\u02ee": '"',  # MODIFIER LETTER DOUBLE APOSTROPHE
    "\u201f": '"',  # DOUBLE HIGH-REVERSED-9 QUOTATION MARK
    "\u201e": '"',  # DOUBLE LOW-9 QUOTATION MARK
    "\u275d": '"',  # HEAVY DOUBLE TURNED COMMA QUOTATION MARK ORNAMENT
    "\u275e": '"',  # HEAVY DOUBLE COMMA QUOTATION MARK ORNAMENT
    "\u301d": '"',  # REVERSED DOUBLE PRIME QUOTATION MARK
    "\u301e": '"',  # DOUBLE PRIME QUOTATION MARK
    "\uff02": '"',  # FULLWIDTH QUOTATION MARK
    "\u2018": "'",  # LEFT SINGLE QUOTATION MARK
    "\u2019": "'",  # RIGHT SINGLE QUOTATION MARK
    "\u02bb": "'",  # MODIFIER LETTER TURNED COMMA
    "\u02c8": "'",  # MODIFIER LETTER VERTICAL LINE
    "\u02bc": "'",  # MODIFIER LETTER APOSTROPHE
    "\u02bd": "'",  # MODIFIER LETTER REVERSED COMMA
    "\u02b9": "'",  # MODIFIER LETTER PRIME
    "\u201b": "'",  # SINGLE HIGH-REVERSED-9 QUOTATION MARK
    "\uff07": "'",  # FULLWIDTH APOSTROPHE
    "\u00b4": "'",  # ACUTE ACCENT
    "\u02ca": "'",  # MODIFIER LETTER ACUTE ACCENT
    "\u0060": "'",  # GRAVE ACCENT
    "\u02cb": "'",  # MODIFIER LETTER GRAVE ACCENT
    "\u275b": "'",  # HEAVY SINGLE TURNED COMMA QUOTATION MARK ORNAMENT
    "\u275c": "'",  # HEAVY SINGLE COMMA QUOTATION MARK ORNAMENT
    "\u0313": "'",  # COMBINING COMMA ABOVE
    "\u0314": "'",  # COMBINING REVERSED COMMA ABOVE
    "\ufe10": "'",  # PRESENTATION FORM FOR VERTICAL COMMA
    "\ufe11": "'",  # PRESENTATION FORM FOR VERTICAL IDEOGRAPHIC COMMA
    "\u00f7": "/",  # DIVISION SIGN
    "\u00bc": "1/4",  # VULGAR FRACTION ONE QUARTER
    "\u00bd": "1/2",  # VULGAR FRACTION ONE HALF
    "\u00be": "3/4",  # VULGAR FRACTION THREE QUARTERS
    "\u29f8": "/",  # BIG SOLIDUS
    "\u0337": "/",  # COMBINING SHORT SOLIDUS OVERLAY
    "\u0338": "/",  # COMBINING LONG SOLIDUS OVERLAY
    "\u2044": "/",  # FRACTION SLASH
    "\u2215": "/",  # DIVISION SLASH
    "\uff0f": "/",  # FULLWIDTH SOLIDUS
    "\u29f9": "\\",  # BIG REVERSE SOLIDUS
    "\u29f5": "\\",  # REVERSE SOLIDUS OPERATOR
    "\u20e5": "\\",  # COMBINING REVERSE SOLIDUS OVERLAY
    "\ufe68": "\\",  # SMALL REVERSE SOLIDUS
    "\uff3c": "\\",  # FULLWIDTH REVERSE SOLIDUS
    "\u0332": "_",  # COMBINING LOW LINE
    "\uff3f": "_",  # FULLWIDTH LOW LINE
    "\u20d2": "|",  # COMBINING LONG VERTICAL LINE OVERLAY
    "\u20d3": "|",  # COMBINING SHORT VERTICAL LINE OVERLAY
    "\u2223": "|",  # DIVIDES
    "\uff5c": "|",  # FULLWIDTH VERTICAL LINE
    "\u23b8": "|",  # LEFT VERTICAL BOX LINE
    "\u23b9": "|",  # RIGHT VERTICAL BOX LINE
    "\u23d0": "|",  # VERTICAL LINE EXTENSION
    "\u239c": "|",  # LEFT PARENTHESIS EXTENSION
    "\u239f": "|",  # RIGHT PARENTHESIS EXTENSION
    "\u23bc": "-",  # HORIZONTAL SCAN LINE-7
    "\u23bd": "-",  # HORIZONTAL SCAN LINE-9
    "\u2015": "-",  # HORIZONTAL BAR
    "\ufe63": "-",  # SMALL HYPHEN-MINUS
    "\uff0d": "-",  # FULLWIDTH HYPHEN-MINUS
    "\u2010": "-",  # HYPHEN
    "\u2043": "-",  # HYPHEN BULLET
    "\ufe6b": "@",  # SMALL COMMERCIAL AT
    "\uff20": "@",  # FULLWIDTH COMMERCIAL AT
    "\ufe69": "$",  # SMALL DOLLAR SIGN
    "\uff04": "$",  # FULLWIDTH DOLLAR SIGN
    "\u01c3": "!",  # LATIN LETTER RETROFLEX CLICK
    "\ufe15": "!",  # PRESENTATION FORM FOR VERTICAL EXCLAMATION MARK
    "\ufe57": "!",  # SMALL EXCLAMATION MARK
    "\uff01": "!",  # FULLWIDTH EXCLAMATION MARK
    "\ufe5f": "#",  # SMALL NUMBER SIGN
    "\uff03": "#",  # FULLWIDTH NUMBER SIGN
    "\ufe6a": "%",  # SMALL PERCENT SIGN
    "\uff05": "%",  # FULLWIDTH PERCENT SIGN
    "\ufe60": "&",  # SMALL AMPERSAND
    "\uff06": "&",  # FULLWIDTH AMPERSAND
    "\u201a": ",",  # SINGLE LOW-9 QUOTATION MARK
    "\u0326": ",",  # COMBINING COMMA BELOW
    "\ufe50": ",",  # SMALL COMMA
    "\ufe51": ",",  # SMALL IDEOGRAPHIC COMMA
    "\uff0c": ",",  # FULLWIDTH COMMA
    "\uff64": ",",  # HALFWIDTH IDEOGRAPHIC COMMA
    "\u2768": "(",  # MEDIUM LEFT PARENTHESIS ORNAMENT
    "\u276a": "(",  # MEDIUM FLATTENED LEFT PARENTHESIS ORNAMENT
    "\ufe59": "(",  # SMALL LEFT PARENTHESIS
    "\uff08": "(",  # FULLWIDTH LEFT PARENTHESIS
    "\u27ee": "(",  # MATHEMATICAL LEFT FLATTENED PARENTHESIS
    "\u2985": "(",  # LEFT WHITE PARENTHESIS
    "\u2769": ")",  # MEDIUM RIGHT PARENTHESIS ORNAMENT
    "\u276b": ")",  # MEDIUM FLATTENED RIGHT PARENTHESIS ORNAMENT
    "\ufe5a": ")",  # SMALL RIGHT PARENTHESIS
    "\uff09": ")",  # FULLWIDTH RIGHT PARENTHESIS
    "\u27ef": ")",  # MATHEMATICAL RIGHT FLATTENED PARENTHESIS
    "\u2986": ")",  # RIGHT WHITE PARENTHESIS
    "\u204e": "*",  # LOW ASTERISK
    "\u2217": "*",  # ASTERISK OPERATOR
    "\u229b": "*",  # CIRCLED ASTERISK OPERATOR
    "\u2722": "*",  # FOUR TEARDROP-SPOKED ASTERISK
    "\u2723": "*",  # FOUR BALLOON-SPOKED ASTERISK
    "\u2724": "*",  # HEAVY FOUR BALLOON-SPOKED ASTERISK
    "\u2725": "*",  # FOUR CLUB-SPOKED ASTERISK
    "\u2731": "*",  # HEAVY ASTERISK
    "\u2732": "*",  # OPEN CENTRE ASTERISK
    "\u2733": "*",  # EIGHT SPOKED ASTERISK
    "\u273a": "*",  # SIXTEEN POINTED ASTERISK
    "\u273b": "*",  # TEARDROP-SPOKED ASTERISK
    "\u273c": "*",  # OPEN CENTRE TEARDROP-SPOKED ASTERISK
    "\u273d": "*",  # HEAVY TEARDROP-SPOKED ASTERISK
    "\u2743": "*",  # HEAVY TEARDROP-SPOKED PINWHEEL ASTERISK
    "\u2749": "*",  # BALLOON-SPOKED ASTERISK
    "\u274a": "*",  # EIGHT TEARDROP-SPOKED PROPELLER ASTERISK
    "\u274b": "*",  # HEAVY EIGHT TEARDROP-SPOKED PROPELLER ASTERISK
    "\u29c6": "*",  # SQUARED ASTERISK
    "\ufe61": "*",  # SMALL ASTERISK
    "\uff0a": "*",  # FULLWIDTH ASTERISK
    "\u02d6": "+",  # MODIFIER LETTER PLUS SIGN
    "\ufe62": "+",  # SMALL PLUS SIGN
    "\uff0b": "+",  # FULLWIDTH PLUS SIGN
    "\u3002": ".",  # IDEOGRAPHIC FULL STOP
    "\ufe52": ".",  # SMALL FULL STOP
    "\uff0e": ".",  # FULLWIDTH FULL STOP
    "\uff61": ".",  # HALFWIDTH IDEOGRAPHIC FULL STOP
    "\uff10": "0",  # FULLWIDTH DIGIT ZERO
    "\uff11": "1",  # FULLWIDTH DIGIT ONE
    "\uff12": "2",  # FULLWIDTH DIGIT TWO
    "\uff13": "3",  # FULLWIDTH DIGIT THREE
    "\uff14": "4",  # FULLWIDTH DIGIT FOUR
    "\uff15": "5",  # FULLWIDTH DIGIT FIVE
    "\uff16": "6",  # FULLWIDTH DIGIT SIX
    "\uff17": "7",  # FULLWIDTH DIGIT SEVEN
    "\uff18": "8",  # FULLWIDTH DIGIT EIGHT
    "\uff19": "9",  # FULLWIDTH DIGIT NINE
    "\u02d0": ":",  # MODIFIER LETTER TRIANGULAR COLON
    "\u02f8": ":",  # MODIFIER LETTER RAISED COLON
    "\u2982": ":",  # Z NOTATION TYPE COLON
    "\ua789": ":",  # MODIFIER LETTER COLON
    "\ufe13": ":",  # PRESENTATION FORM FOR VERTICAL COLON
    "\uff1a": ":",  # FULLWIDTH COLON
    "\u204f": ";",  # REVERSED SEMICOLON
    "\ufe14": ";",  # PRESENTATION FORM FOR VERTICAL SEMICOLON
    "\ufe54": ";",  # SMALL SEMICOLON
    "\uff1b": ";",  # FULLWIDTH SEMICOLON
    "\ufe64": "<",  # SMALL LESS-THAN SIGN
    "\uff1c": "<",  # FULLWIDTH LESS-THAN SIGN
    "\u0347": "=",  # COMBINING EQUALS SIGN BELOW
    "\ua78a": "=",  # MODIFIER LETTER SHORT EQUALS SIGN
    "\ufe66": "=",  # SMALL EQUALS SIGN
    "\uff1d": "=",  # FULLWIDTH EQUALS SIGN
    "\ufe65": ">",  # SMALL GREATER-THAN SIGN
    "\uff1e": ">",  # FULLWIDTH GREATER-THAN SIGN
    "\ufe16": "?",  # PRESENTATION FORM FOR VERTICAL QUESTION MARK
    "\ufe56": "?",  # SMALL QUESTION MARK
    "\uff1f": "?",  # FULLWIDTH QUESTION MARK
    "\uff21": "A",  # FULLWIDTH LATIN CAPITAL LETTER A
    "\u1d00": "A",  # LATIN LETTER SMALL CAPITAL A
    "\uff22": "B",  # FULLWIDTH LATIN CAPITAL LETTER B
    "\u0299": "B",  # LATIN LETTER SMALL CAPITAL B
    "\uff23": "C",  # FULLWIDTH LATIN CAPITAL LETTER C
    "\u1d04": "C",  # LATIN LETTER SMALL CAPITAL C
    "\uff24": "D",  # FULLWIDTH LATIN CAPITAL LETTER D
    "\u1d05": "D",  # LATIN LETTER SMALL CAPITAL D
    "\uff25": "E",  # FULLWIDTH LATIN CAPITAL LETTER E
    "\u1d07": "E",  # LATIN LETTER SMALL CAPITAL E
    "\uff26": "F",  # FULLWIDTH LATIN CAPITAL LETTER F
    "\ua730": "F",  # LATIN LETTER SMALL CAPITAL F
    "\uff27": "G",  # FULLWIDTH LATIN CAPITAL LETTER G
    "\u0262": "G",  # LATIN LETTER SMALL CAPITAL G
    "\uff28": "H",  # FULLWIDTH LATIN CAPITAL LETTER H
    "\u029c": "H",  # LATIN LETTER SMALL CAPITAL H
    "\uff29": "I",  # FULLWIDTH LATIN CAPITAL LETTER I
    "\u026a": "I",  # LATIN LETTER SMALL CAPITAL I
    "\uff2a": "J",  # FULLWIDTH LATIN CAPITAL LETTER J
    "\u1d0a": "J",  # LATIN LETTER SMALL CAPITAL J
    "\uff2b": "K",  # FULLWIDTH LATIN CAPITAL LETTER K
    "\u1d0b": "K",  # LATIN LETTER SMALL CAPITAL K
    "\uff2c": "L",  # FULLWIDTH LATIN CAPITAL LETTER L
    "\u029f": "L",  # LATIN LETTER SMALL CAPITAL L
    "\uff2d": "M",  # FULLWIDTH LATIN CAPITAL LETTER M
    "\u1d0d": "M",  # LATIN LETTER SMALL CAPITAL M
    "\uff2e": "N",  # FULLWIDTH LATIN CAPITAL LETTER N
    "\u0274": "N",  # LATIN LETTER SMALL CAPITAL N
    "\uff2f": "O",  # FULLWIDTH LATIN CAPITAL LETTER O
    "\u1d0f": "O",  # LATIN LETTER SMALL CAPITAL O
    "\uff30": "P",  # FULLWIDTH LATIN CAPITAL LETTER P
    "\u1d18": "P",  # LATIN LETTER SMALL CAPITAL P
    "\uff31": "Q",  # FULLWIDTH LATIN CAPITAL LETTER Q
    "\uff32": "R",  # FULLWIDTH LATIN CAPITAL LETTER R
    "\u0280": "R",  # LATIN LETTER SMALL CAPITAL R
    "\uff33": "S",  # FULLWIDTH LATIN CAPITAL LETTER S
    "\ua731": "S",  # LATIN LETTER SMALL CAPITAL S
    "\uff34": "T",  # FULLWIDTH LATIN CAPITAL LETTER T
    "\u1d1b": "T",  # LATIN LETTER SMALL CAPITAL T
    "\uff35": "U",  # FULLWIDTH LATIN CAPITAL LETTER U
    "\u1d1c": "U",  # LATIN LETTER SMALL CAPITAL U
    "\uff36": "V",  # FULLWIDTH LATIN CAPITAL LETTER V
    "\u1d20": "V",  # LATIN LETTER SMALL CAPITAL V
    "\uff37": "W",  # FULLWIDTH LATIN CAPITAL LETTER W
    "\u1d21": "W",  # LATIN LETTER SMALL CAPITAL W
    "\uff38": "X",  # FULLWIDTH LATIN CAPITAL LETTER X
    "\uff39": "Y",  # FULLWIDTH LATIN CAPITAL LETTER Y
    "\u028f": "Y",  # LATIN LETTER SMALL CAPITAL Y
    "\uff3a": "Z",  # FULLWIDTH LATIN CAPITAL LETTER Z
    "\u1d22": "Z",  # LATIN LETTER SMALL CAPITAL Z
    "\u02c6": "^",  # MODIFIER LETTER CIRCUMFLEX ACCENT
    "\u0302": "^",  # COMBINING CIRCUMFLEX ACCENT
    "\uff3e": "^",  # FULLWIDTH CIRCUMFLEX ACCENT
    "\u1dcd": "^",  # COMBINING DOUBLE CIRCUMFLEX ABOVE
    "\u2774": "{",  # MEDIUM LEFT CURLY BRACKET ORNAMENT
    "\ufe5b": "{",  # SMALL LEFT CURLY BRACKET
    "\uff5b": "{",  # FULLWIDTH LEFT CURLY BRACKET
    "\u2775": "}",  # MEDIUM RIGHT CURLY BRACKET ORNAMENT
    "\ufe5c": "}",  # SMALL RIGHT CURLY BRACKET
    "\uff5d": "}",  # FULLWIDTH RIGHT CURLY BRACKET
    "\uff3b": "[",  # FULLWIDTH LEFT SQUARE BRACKET
    "\uff3d": "]",  # FULLWIDTH RIGHT SQUARE BRACKET
    "\u02dc": "~",  # SMALL TILDE
    "\u02f7": "~",  # MODIFIER LETTER LOW TILDE
    "\u0303": "~",  # COMBINING TILDE
    "\u0330": "~",  # COMBINING TILDE BELOW
    "\u0334": "~",  # COMBINING TILDE OVERLAY
    "\u223c": "~",  # TILDE OPERATOR
    "\uff5e": "~",  # FULLWIDTH TILDE
    "\u00a0": "  ",  # NO-BREAK SPACE
    "\u2000": "  ",  # EN QUAD
    "\u2002": "  ",  # EN SPACE
    "\u2003": "  ",  # EM SPACE
    "\u2004": "  ",  # THREE-PER-EM SPACE
    "\u2005": "  ",  # FOUR-PER-EM SPACE
    "\u2006": "  ",  # SIX-PER-EM SPACE
    "\u2007": "  ",  # FIGURE SPACE
    "\u2008": "  ",  # PUNCTUATION SPACE
    "\u2009": "  ",  # THIN SPACE
    "\u200a": "  ",  # HAIR SPACE
    "\u202f": "  ",  # NARROW NO-BREAK SPACE
    "\u205f": "  ",  # MEDIUM MATHEMATICAL SPACE
    "\u3000": "  ",  # IDEOGRAPHIC SPACE
    "\u008d": "  ",  # <control>
    "\u009f": "  ",  # <control>
    "\u0080": "  ",  # <control>
    "\u0090": "  ",  # <control>
    "\u009b": "  ",  # <control>
    "\u0010": "",  # <control>
    "\u0009": "       ",  # <control>
    "\u0000": "",  # <control>
    "\u0003": "",  # <control>
    "\u0004": "",  # <control>
    "\u0017": "",  # <control>
    "\u0019": "",  # <control>
    "\u0011": "",  # <control>
    "\u0012": "",  # <control>
    "\u0013": "",  # <control>
    "\u0014": "",  # <control>
    "\u2060": "",  # WORD JOINER
    "\u2017": "_",  # DOUBLE LOW LINE
    "\u2014": "-",  # EM DASH
    "\u2013": "-",  # EN DASH
    "\u2039": "<",  # SINGLE LEFT-POINTING ANGLE QUOTATION MARK  # was '>' in git a50230f
    "\u203a": ">",  # SINGLE RIGHT-POINTING ANGLE QUOTATION MARK  # was '<' in git a50230f
    "\u203c": "!!",  # DOUBLE EXCLAMATION MARK
    "\u2028": " ",  # LINE SEPARATOR
    "\u2029": " ",  # PARAGRAPH SEPARATOR
    "\u2026": "...",  # HORIZONTAL ELLIPSIS
    "\u2001": " ",  # EM QUAD
    "\u200b": "",  # ZERO WIDTH SPACE
    "\u200c": "",  # ZERO WIDTH NON-JOINER  # added in npm 1.3.0
    "\u3001": ",",  # IDEOGRAPHIC COMMA
    "\ufeff": "",  # ZERO WIDTH NO-BREAK SPACE
    "\u2022": "-",  # BULLET
}

_GSM7_CHARS: Final = frozenset(GSM7_EXTENSION).union(c for c in GSM7_BASIC if c is not None)
_GSM7_ENCODE_TABLE: Final = str.maketrans(
    {
        **{char: chr(septet) for septet, char in enumerate(GSM7_BASIC) if char is not None},
        **{char: chr(GSM7_ESCAPE) + chr(code) for char, code in GSM7_EXTENSION.items()},
    }
)
# Applied to bytes decoded as Latin-1: septets 0x00-0x7F -> characters, 0x80-0xFF -> U+FFFD.
_GSM7_DECODE_TABLE: Final = str.maketrans(
    {septet: char for septet, char in enumerate(GSM7_BASIC) if char is not None}
    | {octet: "\ufffd" for octet in range(0x80, 0x100)}
)
_GSM7_EXTENSION_DECODE: Final[dict[int, str]] = {code: char for char, code in GSM7_EXTENSION.items()}
# ESC + one optional following septet, or a run without ESC.
_GSM7_TOKEN: Final = re.compile(r"\x1b.?|[^\x1b]+", re.DOTALL)
_SMART_ENCODING_CHARS: Final = re.compile("[" + re.escape("".join(SMART_ENCODING_MAP)) + "]")
# The calculator's graphemes: extended grapheme clusters, with CR LF counted as two.
_GRAPHEME: Final = regex.compile(r"\r|\X")
_ASTRAL: Final = re.compile("[\U00010000-\U0010ffff]")


@dataclass(frozen=True)
class SegmentInfo:
    encoding: Encoding
    segments: int
    characters: int  # septets for GSM-7, grapheme clusters for UCS-2 (the calculator's count)
    body: str  # after smart encoding, when enabled
    septets_or_units: int  # septets for GSM-7, UTF-16 code units for UCS-2
    smart_encoded: bool  # smart encoding changed the body


@dataclass(frozen=True)
class SmsPart:
    data_coding: int  # 0: GSM 03.38 default alphabet, 8: UCS-2
    udh: bytes  # b"" for a single part, else 05 00 03 ref total seq
    payload: bytes  # GSM-7: unpacked septets, one per byte; UCS-2: UTF-16-BE
    text: str


@dataclass(frozen=True)
class _Plan:
    encoding: Encoding
    payload: bytes  # the whole body, encoded
    ends: list[int]  # offset in septets or code units just past each part
    characters: int

    @property
    def unit_bytes(self) -> int:
        return 1 if self.encoding == "GSM-7" else 2


def smart_encode(body: str) -> str:
    """Replace every code point found in Twilio's Smart Encoding map (one pass)."""
    return _SMART_ENCODING_CHARS.sub(lambda match: SMART_ENCODING_MAP[match.group()], body)


def encoding_for(body: str) -> Encoding:
    """Encoding the body needs as given (smart encoding is not applied here)."""
    return "GSM-7" if _GSM7_CHARS.issuperset(body) else "UCS-2"


def segments_for(body: str, smart_encoding: bool = True) -> SegmentInfo:
    text = smart_encode(body) if smart_encoding else body
    plan = _plan(text)
    return SegmentInfo(
        encoding=plan.encoding,
        segments=len(plan.ends),
        characters=plan.characters,
        body=text,
        septets_or_units=len(plan.payload) // plan.unit_bytes,
        smart_encoded=text != body,
    )


def split_for_sms(body: str, smart_encoding: bool = True, *, ref: int) -> list[SmsPart]:
    """Split a body into SMS parts, concatenated with the 8-bit reference ``ref`` when more than one.

    An empty body yields one empty part (the calculator's count); rejecting it is up to the caller.
    """
    if not 0 <= ref <= 0xFF:
        raise ValueError(f"concatenation reference must be 0..255, got {ref}")
    plan = _plan(smart_encode(body) if smart_encoding else body)
    total = len(plan.ends)
    if total > MAX_PARTS:
        raise ValueError(f"body needs {total} parts, more than {MAX_PARTS}")
    if plan.encoding == "GSM-7":
        data_coding, decode = DATA_CODING_DEFAULT, decode_gsm7
    else:
        data_coding, decode = DATA_CODING_UCS2, decode_ucs2
    payloads = [
        plan.payload[start * plan.unit_bytes : end * plan.unit_bytes]
        for start, end in pairwise([0, *plan.ends])
    ]
    return [
        SmsPart(
            data_coding=data_coding,
            udh=bytes((0x05, 0x00, 0x03, ref, total, seq)) if total > 1 else b"",
            payload=payload,
            text=decode(payload),
        )
        for seq, payload in enumerate(payloads, start=1)
    ]


def encode_gsm7(text: str) -> bytes:
    """Unpacked septets, one per byte; extension characters as ESC (0x1B) + code."""
    if not _GSM7_CHARS.issuperset(text):
        index = next(i for i, char in enumerate(text) if char not in _GSM7_CHARS)
        raise UnicodeEncodeError("gsm-7", text, index, index + 1, "not in the GSM 03.38 alphabet")
    return text.translate(_GSM7_ENCODE_TABLE).encode("latin-1")


def decode_gsm7(data: bytes, errors: DecodeErrors = "strict") -> str:
    """Decode unpacked septets (one per byte), resolving ESC sequences.

    As TS 23.038 asks of a receiver: ESC + a code missing from the extension
    table shows the default-alphabet character, ESC ESC and a trailing ESC show a space.
    """
    if errors == "strict":
        bad = next((i for i, octet in enumerate(data) if octet > 0x7F), None)
        if bad is not None:
            raise UnicodeDecodeError("gsm-7", data, bad, bad + 1, "not a septet (> 0x7F)")
    return _GSM7_TOKEN.sub(_decode_gsm7_token, data.decode("latin-1"))


def encode_ucs2(text: str) -> bytes:
    return text.encode("utf-16-be")


def decode_ucs2(data: bytes, errors: DecodeErrors = "strict") -> str:
    # Handsets send UTF-16 under the UCS-2 label, so surrogate pairs are decoded.
    return data.decode("utf-16-be", errors)


def decode_inbound(data: bytes, data_coding: int) -> str:
    """Decode an inbound SMPP short_message (without its UDH); undecodable bytes become U+FFFD."""
    if data_coding == DATA_CODING_DEFAULT:
        return decode_gsm7(data, errors="replace")
    if data_coding == DATA_CODING_IA5:
        return data.decode("ascii", errors="replace")
    if data_coding == DATA_CODING_LATIN1:
        return data.decode("latin-1")
    if data_coding == DATA_CODING_UCS2:
        return decode_ucs2(data, errors="replace")
    raise ValueError(f"unsupported data_coding {data_coding:#04x}")


def _decode_gsm7_token(match: re.Match[str]) -> str:
    token = match.group()
    if token[0] != chr(GSM7_ESCAPE):
        return token.translate(_GSM7_DECODE_TABLE)
    if len(token) == 1 or token[1] == chr(GSM7_ESCAPE):
        return " "
    return _GSM7_EXTENSION_DECODE.get(ord(token[1]), token[1].translate(_GSM7_DECODE_TABLE))


def _plan(text: str) -> _Plan:
    if encoding_for(text) == "GSM-7":
        septets = encode_gsm7(text)
        ends = _part_ends(len(septets), GSM7_SINGLE_SEPTETS, GSM7_MULTI_SEPTETS, _gsm7_cut(septets))
        return _Plan("GSM-7", septets, ends, characters=len(septets))
    units = encode_ucs2(text)
    graphemes = _GRAPHEME.findall(text)
    cut = _ucs2_cut(units, _utf16_boundaries(text, graphemes))
    ends = _part_ends(len(units) // 2, UCS2_SINGLE_UNITS, UCS2_MULTI_UNITS, cut)
    return _Plan("UCS-2", units, ends, characters=len(graphemes))


def _part_ends(size: int, single: int, multi: int, cut: Cut) -> list[int]:
    """Greedy fill: one part if ``size`` fits ``single``, else parts of at most ``multi`` units.

    ``cut(start, limit)`` moves a part's end back from ``limit`` to where the body may be split.
    Equals the calculator's fill (which retro-fits the UDH into part 1 and moves its tail to part 2)
    as long as unsplittable items are small next to a segment.
    """
    if size <= single:
        return [size]
    ends: list[int] = []
    start = 0
    while start < size:
        start = cut(start, min(start + multi, size))
        ends.append(start)
    return ends


def _gsm7_cut(septets: bytes) -> Cut:
    def cut(start: int, limit: int) -> int:
        # 0x1B only ever occurs as the ESC prefix, so this keeps ESC + code together.
        return limit - 1 if septets[limit - 1] == GSM7_ESCAPE else limit

    return cut


def _utf16_boundaries(text: str, graphemes: list[str]) -> list[int]:
    """Offsets, in UTF-16 code units, where ``graphemes`` (which make up ``text``) start and end."""
    offsets = accumulate(map(len, graphemes), initial=0)
    astral = [match.start() for match in _ASTRAL.finditer(text)]
    if not astral:
        return list(offsets)
    # Every astral code point before an offset is a surrogate pair: one more unit.
    return [offset + bisect_left(astral, offset) for offset in offsets]


def _ucs2_cut(units: bytes, boundaries: list[int]) -> Cut:
    def cut(start: int, limit: int) -> int:
        end = boundaries[bisect_right(boundaries, limit) - 1]
        if end > start:
            return end
        # A cluster longer than a segment (a long run of combining marks) cannot stay whole; the
        # calculator would overfill a segment. Cut it between code points, which is all TS 23.040 asks.
        high_surrogate = 0xD8 <= units[2 * (limit - 1)] <= 0xDB
        return limit - 1 if high_surrogate else limit

    return cut
