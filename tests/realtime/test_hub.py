"""The hub's fan-out without a server: one outbox batch read for all clients, each event encoded once and
the same bytes to every recipient, a client's frames of a batch in one write and in stream order, and
nothing for a client outside the conversation."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import orjson

from hubbub.realtime.hub import Hub, Session
from hubbub.realtime.output import OutFrame

CONV, OTHER = "CH" + "1" * 32, "CH" + "2" * 32
SERVICE = "IS" + "0" * 32


class Recorder:
    """An output that records each write (a list of frames per write)."""

    def __init__(self) -> None:
        self.writes: list[list[OutFrame]] = []
        self.finished: asyncio.Future[None] | None = None

    def put(self, frame: OutFrame) -> bool:
        self.writes.append([frame])
        return True

    def put_many(self, frames: list[OutFrame]) -> bool:
        self.writes.append(list(frames))
        return True

    def close(self, code: int) -> None:
        pass


class FakeDb:
    def __init__(self) -> None:
        self.rows: list[Any] = []
        self.reads = 0

    async def read(self, fn: Any) -> Any:
        self.reads += 1
        return fn(None)


def _message(pos: int, conversation: str, body: str) -> Any:
    message = {"sid": f"IM{pos:032x}", "conversation_sid": conversation, "index": pos, "author": "system",
               "body": body, "attributes": "{}", "participant_sid": None, "media": None,
               "date_created": 0, "date_updated": 0}
    payload = {"source": "API", "client_identity": None, "data": {"message": message}}
    return SimpleNamespace(id=pos, account_sid="AC", conversation_sid=conversation, type="onMessageAdded",
                           payload=orjson.dumps(payload).decode())


def _bodies(write: list[OutFrame]) -> list[str]:
    return [orjson.loads(f.payload)["data"]["message"]["body"] for f in write]


def test_batch_fan_out(monkeypatch: Any) -> None:
    from hubbub.actions import realtime as actions

    async def scenario() -> None:
        db = FakeDb()
        monkeypatch.setattr(actions, "events_after", lambda conn, after, limit, until=None:
                            [r for r in db.rows if r.id > after][:limit])
        hub = Hub(db)  # type: ignore[arg-type]
        hub._loop = asyncio.get_running_loop()
        outputs = [Recorder() for _ in range(3)]
        sessions = [Session("AC", SERVICE, f"user{i}", out) for i, out in enumerate(outputs)]  # type: ignore[arg-type]
        for session in sessions[:2]:
            hub._join(session, CONV)
        hub._join(sessions[2], OTHER)

        db.rows = [_message(1, CONV, "a"), _message(2, OTHER, "x"), _message(3, CONV, "b")]
        await hub._drain()
        assert db.reads == 1  # one outbox query for all the clients
        for out in outputs[:2]:
            assert len(out.writes) == 1 and _bodies(out.writes[0]) == ["a", "b"]  # one write, in order
        assert outputs[0].writes[0][0] is outputs[1].writes[0][0]  # encoded once for everybody
        assert _bodies(outputs[2].writes[0]) == ["x"]

        db.rows.append(_message(4, CONV, "c"))
        await hub._drain()
        for out in outputs[:2]:
            assert len(out.writes) == 2 and _bodies(out.writes[1]) == ["c"]
        assert len(outputs[2].writes) == 1 and [s.position for s in sessions] == [4, 4, 2]

    asyncio.run(scenario())
