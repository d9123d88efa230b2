"""`hubbub serve | migrate | keys create | segments | smsc-sim`."""

from __future__ import annotations

import argparse
import gc
import logging
import re
import signal
import sys

from hubbub.settings import Settings

GC_THRESHOLDS = (100_000, 50, 100)
_ACCOUNT_RE = re.compile(r"^AC[0-9a-fA-F]{32}$")


def _settings(args: argparse.Namespace) -> Settings:
    settings = Settings()
    for name in ("host", "port", "database_url"):
        value = getattr(args, name, None)
        if value is not None:
            setattr(settings, name, value)
    if settings.account_sid is not None and not _ACCOUNT_RE.match(settings.account_sid):
        raise SystemExit("HUBBUB_ACCOUNT_SID must be 'AC' followed by 32 hex digits")
    if settings.auth_token is not None and not (8 <= len(settings.auth_token) <= 64):
        raise SystemExit("HUBBUB_AUTH_TOKEN must be 8 to 64 characters")
    return settings


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from hubbub.app import create_app

    settings = _settings(args)
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    app = create_app(settings, announce=True)
    # uvicorn shuts down gracefully on SIGTERM and then re-raises the signal with the handler that was
    # installed before it started; make that one a normal exit so service managers see status 0.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    # Cyclic GC passes over the long-lived objects made at import stalled the event loop for tens of
    # milliseconds under load (p99 of message creates 57 ms → 25 ms without them, bench/README.md):
    # move start-up objects out of the collector's view and collect the young generation less often.
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    # uvicorn handles SIGTERM/SIGINT: stops accepting, finishes in-flight requests, then runs the
    # lifespan shutdown, which drains the writer queue and closes the database.
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=settings.log_level.lower(),
                access_log=args.access_log, proxy_headers=False, timeout_graceful_shutdown=10,
                server_header=False,  # no `server: uvicorn` on every response
                # WebSocket fan-out (hubbub/realtime): the sans-I/O protocol writes a frame without a task
                # switch; permessage-deflate would cost 3-4x the latency and memory
                ws="websockets-sansio", ws_per_message_deflate=False)
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from hubbub.app import open_database

    db = open_database(_settings(args))
    db.close()
    print("database is up to date")
    return 0


def _keys_create(args: argparse.Namespace) -> int:
    from hubbub.app import bootstrap

    hub = bootstrap(_settings(args))
    from hubbub.actions.accounts import do_create_api_key

    account = args.account_sid or hub.credentials.account_sid
    try:
        sid, secret = hub.db.run_sync_write(lambda conn: do_create_api_key(conn, account, args.friendly_name))
    except LookupError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    finally:
        hub.db.close()
    print(f"API key SID: {sid}\nSecret:      {secret}\nAccount SID: {account}")
    return 0


def _segments(argv: list[str]) -> int:
    from hubbub.segments_cli import main as segments_main

    return segments_main(argv)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["segments"]:
        return _segments(argv[1:])
    if argv[:1] == ["smsc-sim"]:
        from hubbub.channels.sms.simulator import main as simulator_main

        return simulator_main(argv[1:])
    parser = argparse.ArgumentParser(prog="hubbub", description="Twilio Conversations compatible server")
    sub = parser.add_subparsers(dest="command", required=True)

    def db_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--database-url", help="sqlite:///path.db (default ./hubbub.db) or postgresql://…")

    serve = sub.add_parser("serve", help="run the server")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--access-log", action="store_true")
    db_options(serve)
    serve.set_defaults(func=_serve)

    mig = sub.add_parser("migrate", help="apply database migrations")
    db_options(mig)
    mig.set_defaults(func=_migrate)

    keys = sub.add_parser("keys", help="API keys")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    create = keys_sub.add_parser("create", help="create an API key (SK…) and print its secret")
    create.add_argument("--friendly-name")
    create.add_argument("--account-sid")
    db_options(create)
    create.set_defaults(func=_keys_create)

    sub.add_parser("segments", help="count SMS segments: hubbub segments [--no-smart-encoding] TEXT")
    sub.add_parser("smsc-sim", help="run a local SMSC for the SMS channel (see docs/sms.md)")

    from hubbub.webhooks.cli import add_webhooks_command

    add_webhooks_command(sub, db_options, _settings)

    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
