"""Hubbub's webhook delivery log (beyond Twilio, under `/hubbub/v1`; same authentication):

- `GET  /hubbub/v1/WebhookDeliveries` — deliveries, newest first; filters `EventType`, `WebhookUrl`,
  `Status`, `ConversationSid`, `Level`, `StartDate`, `EndDate`
- `GET  /hubbub/v1/WebhookDeliveries/{Sid}` and `…/{Sid}/Attempts`
- `POST /hubbub/v1/WebhookDeliveries/{Sid}/Replay` — queue a failed or delivered delivery again
- `POST /hubbub/v1/WebhookDeliveries/Replay` — the same for every match of the filters (default `Status=failed`)
- `GET  /hubbub/v1/WebhookAttempts` — every attempt, newest first; filters `EventType`, `WebhookUrl`,
  `Outcome` (success|failure), `Kind` (post|pre), `ConversationSid`, `StartDate`, `EndDate`
- `GET  /hubbub/v1/WebhookDeliveries/Stats` — per URL and per event: attempts, success rate, latency
  p50/p95/p99 over `StartDate`…`EndDate` (default: the last hour); `Kind` post (default) or pre
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, and_, func, select
from starlette.responses import Response
from starlette.routing import Route

from hubbub.actions import webhook_deliveries as actions
from hubbub.api.http import Call, json_response
from hubbub.api.pagination import PageRequest, envelope
from hubbub.api.routing import resource
from hubbub.domain import clock
from hubbub.domain.sids import is_sid
from hubbub.errors import InvalidParameter
from hubbub.store.schema_webhooks import webhook_attempts as A
from hubbub.store.schema_webhooks import webhook_deliveries as D
from hubbub.webhooks import store

PREFIX = "/hubbub/v1"
MAX_PAGE = 100
STATUSES = ("pending", "sending", "delivered", "failed", "unsupported")
LEVELS = ("account", "service", "conversation")
DEFAULT_STATS_WINDOW_MS = 3600 * 1000
BUCKET_US = 100  # latency percentiles are exact to 0.1 ms


def iso_ms(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def _parameters(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in pairs:
        if name in out:
            out[name] = [*out[name], value] if isinstance(out[name], list) else [out[name], value]
        else:
            out[name] = value
    return out


def delivery(call: Call, row: Any) -> dict[str, Any]:
    url = f"{call.base_url}{PREFIX}/WebhookDeliveries/{row['sid']}"
    return {
        "sid": row["sid"],
        "account_sid": row["account_sid"],
        "chat_service_sid": row["chat_service_sid"],
        "conversation_sid": row["conversation_sid"],
        "event_type": row["event_type"],
        "event_id": row["event_id"],
        "level": row["level"],
        "webhook_sid": row["webhook_sid"],
        "target": row["target"],
        "webhook_url": row["url"],
        "method": row["method"],
        "status": row["status"],
        "attempts": row["attempts"],
        "next_attempt": iso_ms(row["next_attempt_ms"]) if row["status"] == "pending" else None,
        "last_response_code": row["last_status_code"],
        "last_error": row["last_error"],
        "idempotency_token": row["idempotency_token"],
        "parameters": _parameters(store.shown_params(row)),
        "date_created": iso_ms(row["created_ms"]),
        "date_updated": iso_ms(row["updated_ms"]),
        "date_delivered": iso_ms(row["delivered_ms"]),
        "url": url,
        "links": {"attempts": f"{url}/Attempts", "replay": f"{url}/Replay"},
    }


def attempt(call: Call, row: Any, delivery_sid: str | None = None) -> dict[str, Any]:
    sid = delivery_sid if delivery_sid is not None else row.get("delivery_sid")
    return {
        "id": row["id"],
        "delivery_sid": sid,
        "account_sid": row["account_sid"],
        "chat_service_sid": row["chat_service_sid"],
        "conversation_sid": row["conversation_sid"],
        "kind": row["kind"],
        "event_type": row["event_type"],
        "level": row["level"],
        "webhook_url": row["url"],
        "method": row["method"],
        "retry_count": row["attempt"],
        "status_code": row["status_code"],
        "success": bool(row["ok"]),
        "error": row["error"],
        "latency_ms": round(row["latency_us"] / 1000, 3),
        "date_created": iso_ms(row["created_ms"]),
        "delivery_url": f"{call.base_url}{PREFIX}/WebhookDeliveries/{sid}" if sid else None,
    }


# -- filters ---------------------------------------------------------------------------------------------

def _date_ms(value: str | None, name: str, *, end: bool = False) -> int | None:
    if value is None or value == "":
        return None
    seconds = clock.parse_datetime(value, name)
    if end and len(value.strip()) == 10:  # a bare date ends at the end of that day
        seconds += 86399
    return seconds * 1000 + (999 if end else 0)


def _choice(call: Call, name: str, allowed: tuple[str, ...]) -> str | None:
    value = call.query.get(name)
    if value is None or value == "":
        return None
    if value not in allowed:
        raise InvalidParameter(f"Invalid {name}: '{value[:32]}' is not one of {', '.join(allowed)}")
    return value


def _text(call: Call, name: str, max_len: int) -> str | None:
    value = call.query.get(name) if call.request.method == "GET" else call.form.str(name)
    if value is None or value == "":
        return None
    if len(value) > max_len:
        raise InvalidParameter(f"Invalid {name}: longer than {max_len} characters")
    return value


def _conversation(call: Call) -> str | None:
    value = _text(call, "ConversationSid", 34)
    if value is not None and not is_sid(value, "CH"):
        raise InvalidParameter(f"Invalid ConversationSid: '{value}' is not a CH SID")
    return value


def _echo(call: Call, names: tuple[str, ...]) -> dict[str, str]:
    return {name: call.query[name] for name in names if call.query.get(name)}


_DELIVERY_FILTERS = ("EventType", "WebhookUrl", "Status", "ConversationSid", "Level", "StartDate", "EndDate")
_ATTEMPT_FILTERS = ("EventType", "WebhookUrl", "Outcome", "Kind", "ConversationSid", "StartDate", "EndDate")


def delivery_filter(call: Call, *, form: bool = False) -> actions.DeliveryFilter:
    get = (lambda n: call.form.str(n)) if form else (lambda n: call.query.get(n))
    status = get("Status")
    allowed = ("failed", "delivered") if form else STATUSES
    if status is not None and status != "" and status not in allowed:
        raise InvalidParameter(f"Invalid Status: '{status[:32]}' is not one of {', '.join(allowed)}")
    level = get("Level")
    if level is not None and level != "" and level not in LEVELS:
        raise InvalidParameter(f"Invalid Level: '{level[:32]}' is not one of {', '.join(LEVELS)}")
    return actions.DeliveryFilter(
        status=status or ("failed" if form else None),
        event_type=_text(call, "EventType", 64),
        url=_text(call, "WebhookUrl", 1024),
        conversation_sid=_conversation(call),
        level=level or None,
        start_ms=_date_ms(get("StartDate"), "StartDate"),
        end_ms=_date_ms(get("EndDate"), "EndDate", end=True),
    )


# -- handlers --------------------------------------------------------------------------------------------

async def list_deliveries(call: Call) -> Response:
    page = PageRequest(call, max_size=MAX_PAGE)
    where = delivery_filter(call).clause(call.scope.account_sid)

    def query(conn: Connection) -> Any:
        return page.fetch(conn, store.with_event().where(where), D.c.id, descending=True)

    rows, has_next, has_prev = await call.db.read(query)
    return json_response(envelope(call, "deliveries", page, rows, has_next, has_prev, lambda r: r["id"],
                                  lambda r: delivery(call, r), _echo(call, _DELIVERY_FILTERS)))


async def fetch_delivery(call: Call) -> Response:
    sid = call.path["Sid"]
    row = await call.db.read(lambda conn: actions.get_delivery(conn, call.scope.account_sid, sid))
    return json_response(delivery(call, row))


async def list_delivery_attempts(call: Call) -> Response:
    page = PageRequest(call, max_size=MAX_PAGE)
    sid = call.path["Sid"]

    def query(conn: Connection) -> Any:
        row = actions.get_delivery(conn, call.scope.account_sid, sid)
        return page.fetch(conn, select(A).where(A.c.delivery_id == row["id"]), A.c.id)

    rows, has_next, has_prev = await call.db.read(query)
    return json_response(envelope(call, "attempts", page, rows, has_next, has_prev, lambda r: r["id"],
                                  lambda r: attempt(call, r, sid)))


async def replay_delivery(call: Call) -> Response:
    sid = call.path["Sid"]
    return await call.write(lambda conn: actions.do_replay_delivery(conn, call.scope, sid),
                            lambda row: delivery(call, row))


async def replay_deliveries(call: Call) -> Response:
    where = delivery_filter(call, form=True)
    return await call.write(lambda conn: actions.do_replay_deliveries(conn, call.scope.account_sid, where),
                            lambda count: {"replayed": count})


async def list_attempts(call: Call) -> Response:
    page = PageRequest(call, max_size=MAX_PAGE)
    outcome = _choice(call, "Outcome", ("success", "failure"))
    kind = _choice(call, "Kind", ("post", "pre"))
    parts: list[Any] = [A.c.account_sid == call.scope.account_sid]
    for column, value in ((A.c.event_type, _text(call, "EventType", 64)), (A.c.url, _text(call, "WebhookUrl", 1024)),
                          (A.c.conversation_sid, _conversation(call)), (A.c.kind, kind)):
        if value is not None:
            parts.append(column == value)
    if outcome is not None:
        parts.append(A.c.ok == (outcome == "success"))
    start = _date_ms(call.query.get("StartDate"), "StartDate")
    end = _date_ms(call.query.get("EndDate"), "EndDate", end=True)
    if start is not None:
        parts.append(A.c.created_ms >= start)
    if end is not None:
        parts.append(A.c.created_ms <= end)

    def query(conn: Connection) -> Any:
        q = select(A, D.c.sid.label("delivery_sid")).select_from(A.outerjoin(D, D.c.id == A.c.delivery_id)) \
            .where(and_(*parts))
        return page.fetch(conn, q, A.c.id, descending=True)

    rows, has_next, has_prev = await call.db.read(query)
    return json_response(envelope(call, "attempts", page, rows, has_next, has_prev, lambda r: r["id"],
                                  lambda r: attempt(call, r), _echo(call, _ATTEMPT_FILTERS)))


def _percentile(histogram: list[tuple[int, int]], total: int, q: float) -> float | None:
    """Nearest-rank percentile over (bucket, count) pairs sorted by bucket; the bucket's upper edge, in ms."""
    if total == 0:
        return None
    rank = max(1, math.ceil(q * total))
    seen = 0
    for bucket, count in histogram:
        seen += count
        if seen >= rank:
            return round((bucket + 1) * BUCKET_US / 1000, 1)
    return round((histogram[-1][0] + 1) * BUCKET_US / 1000, 1)


class _Agg:
    __slots__ = ("attempts", "successes", "buckets")

    def __init__(self) -> None:
        self.attempts = 0
        self.successes = 0
        self.buckets: dict[int, int] = defaultdict(int)

    def add(self, ok: bool, bucket: int, count: int) -> None:
        self.attempts += count
        if ok:
            self.successes += count
        self.buckets[bucket] += count

    def render(self) -> dict[str, Any]:
        histogram = sorted(self.buckets.items())
        return {
            "attempts": self.attempts,
            "successes": self.successes,
            "failures": self.attempts - self.successes,
            "success_rate": round(self.successes / self.attempts, 4) if self.attempts else None,
            "latency_ms": {name: _percentile(histogram, self.attempts, q)
                           for name, q in (("p50", 0.50), ("p95", 0.95), ("p99", 0.99))},
        }


async def stats(call: Call) -> Response:
    now = clock.now_ms()
    end = _date_ms(call.query.get("EndDate"), "EndDate", end=True) or now
    start = _date_ms(call.query.get("StartDate"), "StartDate")
    if start is None:
        start = end - DEFAULT_STATS_WINDOW_MS
    if start > end:
        raise InvalidParameter("Invalid StartDate: after EndDate")
    kind = _choice(call, "Kind", ("post", "pre")) or "post"
    account = call.scope.account_sid
    bucket = (A.c.latency_us // BUCKET_US).label("bucket")

    def query(conn: Connection) -> Any:
        rows = conn.execute(
            select(A.c.url, A.c.event_type, A.c.ok, bucket, func.count().label("n"))
            .where(A.c.account_sid == account, A.c.kind == kind, A.c.created_ms >= start, A.c.created_ms <= end)
            .group_by(A.c.url, A.c.event_type, A.c.ok, bucket)).all()
        queue = conn.execute(select(D.c.status, func.count()).where(D.c.account_sid == account)
                             .group_by(D.c.status)).all()
        return rows, queue

    rows, queue = await call.db.read(query)
    total = _Agg()
    by_url: dict[str, _Agg] = defaultdict(_Agg)
    by_event: dict[str, _Agg] = defaultdict(_Agg)
    for url, event_type, ok, b, n in rows:
        for agg in (total, by_url[url], by_event[event_type]):
            agg.add(bool(ok), int(b), int(n))
    return json_response({
        "account_sid": account,
        "kind": kind,
        "start_date": iso_ms(start),
        "end_date": iso_ms(end),
        "total": total.render(),
        "by_url": [{"webhook_url": url, **agg.render()} for url, agg in sorted(by_url.items())],
        "by_event": [{"event_type": event, **agg.render()} for event, agg in sorted(by_event.items())],
        "queue": {status: next((int(n) for s, n in queue if s == status), 0) for status in STATUSES},
        "url": f"{call.base_url}{PREFIX}/WebhookDeliveries/Stats",
    })


routes: list[Route] = [
    resource(f"{PREFIX}/WebhookDeliveries", GET=list_deliveries),
    resource(f"{PREFIX}/WebhookDeliveries/Stats", GET=stats),
    resource(f"{PREFIX}/WebhookDeliveries/Replay", POST=replay_deliveries),
    resource(f"{PREFIX}/WebhookDeliveries/{{Sid}}", GET=fetch_delivery),
    resource(f"{PREFIX}/WebhookDeliveries/{{Sid}}/Attempts", GET=list_delivery_attempts),
    resource(f"{PREFIX}/WebhookDeliveries/{{Sid}}/Replay", POST=replay_delivery),
    resource(f"{PREFIX}/WebhookAttempts", GET=list_attempts),
]
