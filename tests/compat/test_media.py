"""Media (Twilio's Media Content Service API, served by Hubbub): upload, fetch, download, delete, and media
messages. Uploads go over raw HTTP (`requests`), as Twilio documents them (no helper library covers MCS);
messages with media go through the official `twilio` library.

This module runs its own server (per backend) with a small upload limit and its own media directory, so
the size limit can be tested without huge uploads and the files on disk can be inspected.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from sqlalchemy import create_engine, func, select
from twilio.base.exceptions import TwilioRestException

from hubbub.store.database import sqlalchemy_url
from hubbub.store.schema_media import media as media_table
from tests.compat.helpers import assert_error_body, twilio_error
from tests.conftest import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    OTHER_ACCOUNT_SID,
    OTHER_AUTH_TOKEN,
    Server,
    _backends,
    scratch_database,
    start_server,
    stop_server,
)
from tests.webhooks.receiver import Receiver

MAX_BYTES = 4 * 1024 * 1024
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40


@dataclass
class MediaServer:
    server: Server
    media_dir: Path

    def upload(self, data: Any, content_type: str | None = "image/png", *, service: str | None = None,
               auth: tuple[str, str] | None = None, params: dict[str, str] | None = None,
               headers: dict[str, str] | None = None) -> requests.Response:
        all_headers = dict(headers or {})
        if content_type is not None:
            all_headers["Content-Type"] = content_type
        return self.server.http("POST", f"/v1/Services/{service or self.service_sid}/Media", data=data,
                                headers=all_headers, params=params, auth=auth)

    def uploaded(self, data: bytes = PNG, content_type: str = "image/png", **kw: Any) -> dict[str, Any]:
        response = self.upload(data, content_type, **kw)
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.server.http("GET", path, **kw)

    @property
    def service_sid(self) -> str:
        client: Any = self.server.client()
        sid: str = client.conversations.v1.configuration().fetch().default_chat_service_sid
        return sid

    def media_rows(self) -> int:
        with self.server.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(media_table)).scalar_one())

    def files(self) -> list[Path]:
        return [p for p in self.media_dir.rglob("*") if p.is_file()]


@pytest.fixture(scope="module", params=_backends())
def ms(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MediaServer]:
    backend: str = request.param
    tmp = tmp_path_factory.mktemp(f"media-{backend}")
    media_dir = tmp / "media"
    env = {"HUBBUB_MEDIA_DIR": str(media_dir), "HUBBUB_MEDIA_MAX_BYTES": str(MAX_BYTES),
           "HUBBUB_WEBHOOK_POLL_INTERVAL": "0.2s"}
    with scratch_database(backend, tmp, "hubbub_media") as database_url:
        process, url = start_server(database_url, tmp / "server.log", env)
        engine = create_engine(sqlalchemy_url(database_url))
        with engine.begin() as conn:
            from hubbub.actions.accounts import do_ensure_account

            do_ensure_account(conn, OTHER_ACCOUNT_SID, OTHER_AUTH_TOKEN)
        try:
            yield MediaServer(Server(backend, url, database_url, process, tmp / "server.log", engine), media_dir)
        finally:
            stop_server(process)
            engine.dispose()
            log_text = (tmp / "server.log").read_text(errors="replace")
            assert "unhandled error" not in log_text, log_text[-5000:]
        assert "Traceback" not in log_text, log_text[-5000:]


@pytest.fixture
def client(ms: MediaServer) -> Any:
    return ms.server.client()


@pytest.fixture
def conversation(client: Any) -> Any:
    return client.conversations.v1.conversations.create(friendly_name="media")


def wait_until(predicate: Any, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


# -- upload, fetch, download -----------------------------------------------------------------------------

def test_upload_fetch_download_round_trip(ms: MediaServer) -> None:
    data = os.urandom(100_000)
    service = ms.service_sid
    record = ms.uploaded(data, "image/jpeg", params={"Filename": "holiday photo.jpg"})
    assert re.fullmatch(r"ME[0-9a-f]{32}", record["sid"])
    path = f"/v1/Services/{service}/Media/{record['sid']}"
    assert record["account_sid"] == ACCOUNT_SID
    assert record["service_sid"] == service
    assert record["size"] == len(data)
    assert record["content_type"] == "image/jpeg"
    assert record["filename"] == "holiday photo.jpg"
    assert record["category"] == "media"
    assert record["author"] == "system"
    assert record["message_sid"] is None and record["channel_sid"] is None
    assert record["url"] == path  # MCS answers paths, not absolute URLs
    assert record["links"]["content"] == f"{path}/Content"
    assert record["is_multipart_upstream"] is False
    assert record["date_created"].endswith("Z")

    fetched = ms.get(path)
    assert fetched.status_code == 200
    assert {k: v for k, v in fetched.json().items() if k != "links"} == \
        {k: v for k, v in record.items() if k != "links"}

    content = ms.get(record["links"]["content"])
    assert content.status_code == 200
    assert content.content == data
    assert content.headers["content-type"] == "image/jpeg"
    assert content.headers["content-disposition"].startswith("inline;")
    assert 'filename="holiday photo.jpg"' in content.headers["content-disposition"]
    assert content.headers["x-content-type-options"] == "nosniff"

    # The temporary URL works without credentials, and only as signed.
    temporary = record["links"]["content_direct_temporary"]
    assert urlsplit(temporary).netloc == urlsplit(ms.server.url).netloc
    direct = requests.get(temporary, timeout=30)
    assert direct.status_code == 200 and direct.content == data
    tampered = re.sub(r"Signature=([0-9a-f])", lambda m: "Signature=" + ("1" if m[1] != "1" else "2"), temporary)
    assert_error_body(requests.get(tampered, timeout=30), 403, 20403)
    assert_error_body(requests.get(temporary.split("?")[0], timeout=30), 401, 20003)

    # On disk: one file with exactly these bytes, and no upload left half-written.
    stored = [p for p in ms.files() if p.name == record["sid"]]
    assert len(stored) == 1 and hashlib.sha256(stored[0].read_bytes()).digest() == hashlib.sha256(data).digest()
    assert not list((ms.media_dir / "tmp").iterdir())


def test_filename_from_content_disposition_and_attachment_download(ms: MediaServer) -> None:
    record = ms.uploaded(b"%PDF-1.4 fake", "application/pdf",
                         headers={"Content-Disposition": "attachment; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf"})
    assert record["filename"] == "résumé.pdf"
    content = ms.get(record["links"]["content"])
    assert content.content == b"%PDF-1.4 fake"
    assert content.headers["content-type"] == "application/pdf"
    disposition = content.headers["content-disposition"]
    assert disposition.startswith("attachment;") and "filename*=UTF-8''r%C3%A9sum%C3%A9.pdf" in disposition


def test_media_without_filename_and_other_categories(ms: MediaServer) -> None:
    record = ms.uploaded(b"hello", "text/plain; charset=utf-8", params={"Category": "body"})
    assert record["filename"] is None and record["category"] == "body"
    content = ms.get(record["links"]["content"])
    assert content.text == "hello" and content.headers["content-type"] == "text/plain; charset=utf-8"
    assert content.headers["content-disposition"] == "attachment"


def test_large_upload_is_streamed(ms: MediaServer) -> None:
    chunk = os.urandom(64 * 1024)
    count = 48  # 3 MiB, sent chunked (no Content-Length): the server cannot size it up front
    digest = hashlib.sha256(chunk * count).hexdigest()
    record = ms.uploaded((chunk for _ in range(count)), "video/mp4")  # type: ignore[arg-type]
    assert record["size"] == len(chunk) * count
    downloaded = ms.get(record["links"]["content"])
    assert hashlib.sha256(downloaded.content).hexdigest() == digest


def test_size_limit(ms: MediaServer) -> None:
    rows, files = ms.media_rows(), len(ms.files())
    too_big = b"x" * (MAX_BYTES + 1)
    assert_error_body(ms.upload(too_big), 413, 50512)  # refused from Content-Length, before the body
    chunked = ms.upload(too_big[i:i + 65536] for i in range(0, len(too_big), 65536))  # type: ignore[arg-type]
    assert_error_body(chunked, 413, 50512)  # refused while streaming
    assert ms.media_rows() == rows and len(ms.files()) == files
    exactly = ms.uploaded(b"y" * MAX_BYTES, "application/octet-stream")
    assert exactly["size"] == MAX_BYTES


@pytest.mark.parametrize(("case", "kwargs", "status", "code"), [
    ("empty body", {"data": b""}, 400, 50513),
    ("no Content-Type", {"data": b"abc", "content_type": None}, 400, 50511),
    ("Content-Type not a MIME type", {"data": b"abc", "content_type": "picture"}, 400, 50511),
    ("multipart upload", {"data": b"--x\r\n", "content_type": "multipart/form-data; boundary=x"}, 415, 50511),
    ("unknown Category", {"data": b"abc", "params": {"Category": "avatar"}}, 400, 20001),
    ("filename too long", {"data": b"abc", "params": {"Filename": "f" * 257}}, 400, 20001),
    ("control character in filename", {"data": b"abc", "params": {"Filename": "a\x01b"}}, 400, 20001),
    ("malformed service SID", {"data": b"abc", "service": "IS123"}, 404, 20404),
    ("unknown service", {"data": b"abc", "service": "IS" + "0" * 32}, 404, 20404),
    ("wrong credentials", {"data": b"abc", "auth": (ACCOUNT_SID, "wrong-token-123")}, 401, 20003),
])
def test_bad_uploads_are_refused_and_store_nothing(ms: MediaServer, case: str, kwargs: dict[str, Any],
                                                   status: int, code: int) -> None:
    rows, files = ms.media_rows(), len(ms.files())
    kwargs = dict(kwargs)
    data = kwargs.pop("data")
    content_type = kwargs.pop("content_type", "image/png")
    assert_error_body(ms.upload(data, content_type, **kwargs), status, code)
    assert ms.media_rows() == rows and len(ms.files()) == files


def test_bad_paths_and_methods(ms: MediaServer) -> None:
    service = ms.service_sid
    assert_error_body(ms.get(f"/v1/Services/{service}/Media/ME123"), 404, 20404)
    assert_error_body(ms.get(f"/v1/Services/{service}/Media/ME{'0' * 32}"), 404, 20404)
    assert_error_body(ms.get(f"/v1/Services/{service}/Media/ME{'0' * 32}/Content"), 404, 20404)
    assert_error_body(ms.get(f"/v1/Services/{service}/Media"), 405, 20004)
    record = ms.uploaded()
    response = ms.server.http("POST", record["links"]["content"], data=b"x")
    assert_error_body(response, 405, 20004)
    expired = f"{record['links']['content']}?Expires=1&Signature=00"
    assert_error_body(ms.get(expired, auth=("x", "y")), 403, 20403)
    for signature in ("%C3%A9", "%00", "x" * 5000):
        forged = f"{record['links']['content']}?Expires=9999999999&Signature={signature}"
        assert_error_body(ms.get(forged), 403, 20403)
    assert_error_body(ms.upload(b"abc", params={"Filename": "a\x00b"}), 400, 20001)


def test_media_of_another_account_is_not_found(ms: MediaServer) -> None:
    record = ms.uploaded()
    other = (OTHER_ACCOUNT_SID, OTHER_AUTH_TOKEN)
    assert_error_body(ms.get(record["url"], auth=other), 404, 20404)
    assert_error_body(ms.get(record["links"]["content"], auth=other), 404, 20404)
    assert_error_body(ms.server.http("DELETE", record["url"], auth=other), 404, 20404)
    assert_error_body(ms.upload(b"abc", auth=other), 404, 20404)  # our service, their credentials
    assert ms.get(record["url"]).status_code == 200  # untouched


def test_delete_unattached_media(ms: MediaServer) -> None:
    record = ms.uploaded()
    assert ms.server.http("DELETE", record["url"]).status_code == 204
    assert_error_body(ms.get(record["url"]), 404, 20404)
    assert_error_body(ms.get(record["links"]["content"]), 404, 20404)
    assert_error_body(requests.get(record["links"]["content_direct_temporary"], timeout=30), 403, 20403)
    wait_until(lambda: not any(p.name == record["sid"] for p in ms.files()), "the file to be removed")


# -- messages with media ---------------------------------------------------------------------------------

def test_message_with_media(ms: MediaServer, client: Any, conversation: Any) -> None:
    photo = ms.uploaded(PNG, "image/png", params={"Filename": "a.png"})
    notes = ms.uploaded(b"notes", "text/plain", params={"Filename": "notes.txt"})
    messages = client.conversations.v1.conversations(conversation.sid).messages
    message = messages.create(author="alice", body="look", media_sid=[photo["sid"], notes["sid"]])
    expected = [
        {"sid": photo["sid"], "size": len(PNG), "content_type": "image/png", "filename": "a.png",
         "category": "media"},
        {"sid": notes["sid"], "size": 5, "content_type": "text/plain", "filename": "notes.txt",
         "category": "media"},
    ]
    assert message.body == "look"
    assert message.media == expected
    assert messages(message.sid).fetch().media == expected
    assert [m.media for m in messages.list() if m.sid == message.sid] == [expected]
    attached = ms.get(photo["url"]).json()
    assert attached["message_sid"] == message.sid and attached["channel_sid"] == conversation.sid
    # still downloadable once attached
    assert ms.get(photo["links"]["content"]).content == PNG


def test_media_only_message(ms: MediaServer, client: Any, conversation: Any) -> None:
    record = ms.uploaded()
    message = client.conversations.v1.conversations(conversation.sid).messages.create(media_sid=record["sid"])
    assert message.body is None
    assert [m["sid"] for m in message.media] == [record["sid"]]


def test_message_media_errors_write_nothing(ms: MediaServer, client: Any, conversation: Any) -> None:
    messages = client.conversations.v1.conversations(conversation.sid).messages
    used = ms.uploaded()
    messages.create(media_sid=used["sid"])
    free = ms.uploaded()
    other_service = client.conversations.v1.services.create(friendly_name="media elsewhere")
    elsewhere = ms.uploaded(service=other_service.sid)
    cases = [
        ([f"ME{'1' * 32}"], 400, 50507),  # never uploaded
        ([elsewhere["sid"]], 400, 50507),  # uploaded to another service of the account
        ([used["sid"]], 409, 50508),  # attached to another message
        ([free["sid"], free["sid"]], 409, 50508),  # twice in one message
        ([free["sid"], used["sid"]], 409, 50508),  # one good, one not: nothing is attached
        (["ME123"], 400, 50510),  # not an ME SID
        (["IM" + "1" * 32], 400, 50510),
    ]
    count = len(messages.list())
    for sids, status, code in cases:
        with twilio_error(status, code):
            messages.create(body="x", media_sid=sids)
    assert len(messages.list()) == count
    assert ms.get(free["url"]).json()["message_sid"] is None
    # and the free one can still be used
    assert [m["sid"] for m in messages.create(media_sid=free["sid"]).media] == [free["sid"]]


def test_concurrent_messages_attach_a_media_once(ms: MediaServer, client: Any) -> None:
    from concurrent.futures import ThreadPoolExecutor

    record = ms.uploaded()
    conversations = [client.conversations.v1.conversations.create(friendly_name=f"race {n}") for n in range(8)]

    def send(conversation_sid: str) -> requests.Response:
        return ms.server.http("POST", f"/v1/Conversations/{conversation_sid}/Messages",
                              data={"MediaSid": record["sid"], "Body": "mine"})

    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(send, [c.sid for c in conversations]))
    created = [r for r in responses if r.status_code == 201]
    assert len(created) == 1, [r.text for r in responses]
    for r in responses:
        if r.status_code != 201:
            assert_error_body(r, 409, 50508)
    assert ms.get(record["url"]).json()["message_sid"] == created[0].json()["sid"]
    assert sum(len(client.conversations.v1.conversations(c.sid).messages.list()) for c in conversations) == 1


def test_other_accounts_media_cannot_be_attached(ms: MediaServer, conversation: Any) -> None:
    other: Any = ms.server.client(OTHER_ACCOUNT_SID, OTHER_AUTH_TOKEN)
    other_service = other.conversations.v1.configuration().fetch().default_chat_service_sid
    theirs = ms.uploaded(service=other_service, auth=(OTHER_ACCOUNT_SID, OTHER_AUTH_TOKEN))
    client: Any = ms.server.client()
    with twilio_error(400, 50507):
        client.conversations.v1.conversations(conversation.sid).messages.create(media_sid=theirs["sid"])


def test_deleting_a_message_deletes_its_media(ms: MediaServer, client: Any, conversation: Any) -> None:
    record = ms.uploaded()
    messages = client.conversations.v1.conversations(conversation.sid).messages
    message = messages.create(body="bye", media_sid=record["sid"])
    assert_error_body(ms.server.http("DELETE", record["url"]), 409, 50514)  # belongs to its message
    messages(message.sid).delete()
    assert_error_body(ms.get(record["url"]), 404, 20404)
    assert_error_body(ms.get(record["links"]["content"]), 404, 20404)
    wait_until(lambda: not any(p.name == record["sid"] for p in ms.files()), "the file to be removed")


def test_deleting_a_conversation_deletes_its_media(ms: MediaServer, client: Any) -> None:
    conversation = client.conversations.v1.conversations.create(friendly_name="short-lived")
    record = ms.uploaded()
    client.conversations.v1.conversations(conversation.sid).messages.create(media_sid=record["sid"])
    client.conversations.v1.conversations(conversation.sid).delete()
    assert_error_body(ms.get(record["url"]), 404, 20404)
    assert_error_body(ms.get(record["links"]["content"]), 404, 20404)


def test_media_message_webhook_carries_media(ms: MediaServer, client: Any) -> None:
    receiver = Receiver()
    try:
        service = client.conversations.v1.services.create(friendly_name="media webhooks")
        client.conversations.v1.services(service.sid).configuration.webhooks().update(
            post_webhook_url=receiver.url("/post"), filters=["onMessageAdded"], method="POST")
        conversation = client.conversations.v1.services(service.sid).conversations.create()
        record = ms.uploaded(PNG, "image/png", service=service.sid, params={"Filename": "a.png"})
        client.conversations.v1.services(service.sid).conversations(conversation.sid).messages.create(
            media_sid=record["sid"], x_twilio_webhook_enabled="true")
        [event] = receiver.wait_for("/post", 1, "onMessageAdded")
        import json

        assert json.loads(event.form["Media"]) == [
            {"Sid": record["sid"], "Filename": "a.png", "ContentType": "image/png", "Size": len(PNG)}]
    finally:
        receiver.stop()


def test_twilio_client_error_for_unknown_media_is_a_rest_exception(ms: MediaServer, client: Any,
                                                                   conversation: Any) -> None:
    with pytest.raises(TwilioRestException) as info:
        client.conversations.v1.conversations(conversation.sid).messages.create(media_sid=f"ME{'2' * 32}")
    assert info.value.status == 400 and info.value.code == 50507


# -- crashes ---------------------------------------------------------------------------------------------

def test_sigkill_mid_upload_leaves_nothing_and_acknowledged_uploads_survive(ms: MediaServer, tmp_path: Path
                                                                            ) -> None:
    """A server killed during an upload keeps no row and, after the restart, no partial file; an upload
    that was answered 201 is there after a kill and restart, byte for byte."""
    import signal
    import threading

    with scratch_database(ms.server.backend, tmp_path, "hubbub_media") as database_url:
        media_dir = tmp_path / "media"
        env = {"HUBBUB_MEDIA_DIR": str(media_dir)}
        engine = None
        process, url = start_server(database_url, tmp_path / "server.log", env)
        try:
            engine = create_engine(sqlalchemy_url(database_url))
            server = Server(ms.server.backend, url, database_url, process, tmp_path / "server.log", engine)
            service = MediaServer(server, media_dir).service_sid
            sent, release = threading.Event(), threading.Event()

            def body() -> Iterator[bytes]:
                yield b"a" * 65536
                sent.set()
                release.wait(30)
                yield b"b" * 65536

            def post() -> None:
                try:
                    requests.post(f"{url}/v1/Services/{service}/Media", data=body(), auth=(ACCOUNT_SID, AUTH_TOKEN),
                                  headers={"Content-Type": "image/png"}, timeout=30)
                except requests.RequestException:
                    pass  # the server died under it

            uploader = threading.Thread(target=post)
            uploader.start()
            assert sent.wait(30)
            wait_until(lambda: (media_dir / "tmp").is_dir() and any((media_dir / "tmp").iterdir()),
                       "the upload to reach the disk")
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
            release.set()
            uploader.join(timeout=30)

            process, url = start_server(database_url, tmp_path / "server.log", env)
            server = Server(ms.server.backend, url, database_url, process, tmp_path / "server.log", engine)
            restarted = MediaServer(server, media_dir)
            assert restarted.media_rows() == 0
            assert not list((media_dir / "tmp").iterdir())  # the interrupted upload was cleaned up at start

            data = os.urandom(200_000)
            record = restarted.uploaded(data, "audio/mpeg", service=service)
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
            process, url = start_server(database_url, tmp_path / "server.log", env)
            server = Server(ms.server.backend, url, database_url, process, tmp_path / "server.log", engine)
            survived = MediaServer(server, media_dir).get(record["links"]["content"])
            assert survived.status_code == 200 and survived.content == data
        finally:
            stop_server(process)
            if engine is not None:
                engine.dispose()
