"""``hubbub segments``: show how Twilio would encode and segment an SMS body, as JSON."""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import sys

from hubbub.domain.sms_encoding import segments_for


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hubbub segments",
        description="Print the encoding, segment count and character count of an SMS body as JSON, "
        "counted like Twilio's message segment calculator.",
    )
    parser.add_argument(
        "--no-smart-encoding",
        dest="smart_encoding",
        action="store_false",
        help="do not apply Twilio Smart Encoding replacements first",
    )
    parser.add_argument(
        "text",
        nargs="?",
        metavar="TEXT",
        help="message body; read from standard input when absent (one trailing newline is dropped)",
    )
    return parser


def _read_stdin_body() -> str:
    if isinstance(sys.stdin, io.TextIOWrapper):
        sys.stdin.reconfigure(newline="")  # keep CR LF as is: it costs two characters
    body = sys.stdin.read()
    # The newline that `echo` or an editor adds is not part of the message.
    for newline in ("\r\n", "\n"):
        if body.endswith(newline):
            return body[: -len(newline)]
    return body


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    body = args.text if args.text is not None else _read_stdin_body()
    info = segments_for(body, smart_encoding=args.smart_encoding)
    report = {**dataclasses.asdict(info), "smart_encoding": args.smart_encoding}
    print(json.dumps(report, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
