"""`hubbub webhooks list | replay`: the delivery log from the command line (works on the database directly;
a running server sends replayed deliveries within `HUBBUB_WEBHOOK_POLL_INTERVAL`)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, select

from hubbub.domain import clock


def _ms(value: str | None, name: str) -> int | None:
    return None if value is None else clock.parse_datetime(value, name) * 1000


def _filter(args: argparse.Namespace) -> Any:
    from hubbub.actions.webhook_deliveries import DeliveryFilter

    return DeliveryFilter(status=args.status, event_type=args.event, url=args.url,
                          conversation_sid=args.conversation, start_ms=_ms(args.since, "--since"),
                          end_ms=_ms(args.until, "--until"))


def _open(args: argparse.Namespace, settings_of: Callable[[argparse.Namespace], Any]) -> Any:
    from hubbub.app import open_database

    return open_database(settings_of(args))


def _replay(args: argparse.Namespace, settings_of: Callable[[argparse.Namespace], Any]) -> int:
    from hubbub.actions.webhook_deliveries import DeliveryFilter, do_replay_deliveries
    from hubbub.store.schema_webhooks import webhook_deliveries as D
    from hubbub.webhooks import store

    db = _open(args, settings_of)
    try:
        if args.sid:
            count = db.run_sync_write(lambda conn: store.replay(conn, D.c.sid.in_(args.sid)))
        else:
            where: DeliveryFilter = _filter(args)
            count = db.run_sync_write(lambda conn: do_replay_deliveries(conn, args.account_sid, where))
    finally:
        db.close()
    print(f"replayed {count} deliveries")
    return 0


def _list(args: argparse.Namespace, settings_of: Callable[[argparse.Namespace], Any]) -> int:
    from hubbub.store.schema_webhooks import webhook_deliveries as D

    db = _open(args, settings_of)
    where = _filter(args).clause(args.account_sid)

    def query(conn: Connection) -> Any:
        return conn.execute(select(D.c.sid, D.c.status, D.c.attempts, D.c.event_type, D.c.url, D.c.last_error,
                                   D.c.created_ms).where(where).order_by(D.c.id.desc()).limit(args.limit)).all()

    try:
        rows = db.run_sync_write(query)
    finally:
        db.close()
    for row in rows:
        when = clock.iso(row.created_ms // 1000)
        print(f"{row.sid}  {row.status:<11} {row.attempts:>2}  {when}  {row.event_type:<26} {row.url or '-'}"
              + (f"  ({row.last_error})" if row.last_error else ""))
    return 0


def add_webhooks_command(sub: Any, db_options: Callable[[argparse.ArgumentParser], None],
                         settings_of: Callable[[argparse.Namespace], Any]) -> None:
    webhooks = sub.add_parser("webhooks", help="webhook delivery log: list and replay deliveries")
    commands = webhooks.add_subparsers(dest="webhooks_command", required=True)

    def filters(p: argparse.ArgumentParser, status_default: str | None) -> None:
        p.add_argument("--status", default=status_default,
                       help=f"delivery status (default: {status_default or 'any'})")
        p.add_argument("--event", help="event type, e.g. onMessageAdded")
        p.add_argument("--url", help="target URL (exact)")
        p.add_argument("--conversation", help="conversation SID (CH…)")
        p.add_argument("--since", help="created at or after (ISO 8601)")
        p.add_argument("--until", help="created at or before (ISO 8601)")
        p.add_argument("--account-sid", help="only this account's deliveries")
        db_options(p)

    replay = commands.add_parser("replay", help="queue failed deliveries again (or those given with --sid)")
    replay.add_argument("--sid", action="append", help="a delivery SID (WD…); repeatable")
    filters(replay, "failed")
    replay.set_defaults(func=lambda a: _replay(a, settings_of))

    listing = commands.add_parser("list", help="print deliveries, newest first")
    listing.add_argument("--limit", type=int, default=50)
    filters(listing, None)
    listing.set_defaults(func=lambda a: _list(a, settings_of))
