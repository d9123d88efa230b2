"""Browser end to end: headless Chromium (Debian's `chromium` package) opens /chat as two users, driven
over the DevTools protocol with the `websockets` package (no WebDriver needed). They exchange messages,
see each other typing and each other's read state, and a message posted through REST appears live.

Skipped when `chromium` is not installed; HUBBUB_REQUIRE_BROWSER=1 makes that a failure."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import shutil
import subprocess
import tempfile
from typing import Any

import pytest
from websockets.asyncio.client import connect as ws_connect

from tests.conftest import Server
from tests.realtime.conftest import Mint, run


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    if os.environ.get("HUBBUB_REQUIRE_BROWSER"):
        pytest.fail("chromium is not installed (HUBBUB_REQUIRE_BROWSER is set)")
    pytest.skip("chromium is not installed (apt-get install chromium)")


class Browser:
    """A headless Chromium and one DevTools connection; `tab()` opens a page to evaluate JavaScript in."""

    def __init__(self, binary: str) -> None:
        self.profile = tempfile.mkdtemp(prefix="hubbub-chromium-")
        self.process = subprocess.Popen(
            [binary, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--no-first-run", "--remote-debugging-port=0", f"--user-data-dir={self.profile}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.ids = itertools.count(1)
        self.pending: dict[int, asyncio.Future[Any]] = {}
        self.ws: Any = None
        self.reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        assert self.process.stderr is not None
        loop = asyncio.get_running_loop()
        url = None
        for _ in range(200):
            line = await loop.run_in_executor(None, self.process.stderr.readline)
            found = re.search(r"DevTools listening on (ws://\S+)", line)
            if found:
                url = found.group(1)
                break
            if not line and self.process.poll() is not None:
                break
        assert url, "chromium did not start"
        self.ws = await ws_connect(url, max_size=2**24, compression=None)
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for text in self.ws:
            message = json.loads(text)
            future = self.pending.pop(message.get("id", -1), None)
            if future is not None and not future.done():
                future.set_result(message)

    async def send(self, method: str, session: str | None = None, **params: Any) -> Any:
        request_id = next(self.ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.pending[request_id] = future
        frame: dict[str, Any] = {"id": request_id, "method": method, "params": params}
        if session:
            frame["sessionId"] = session
        await self.ws.send(json.dumps(frame))
        reply = await asyncio.wait_for(future, 30)
        assert "error" not in reply, reply
        return reply["result"]

    async def tab(self, url: str) -> Tab:
        target = (await self.send("Target.createTarget", url=url))["targetId"]
        session = (await self.send("Target.attachToTarget", targetId=target, flatten=True))["sessionId"]
        tab = Tab(self, session)
        await tab.until("document.readyState === 'complete' && !!document.getElementById('signin')")
        return tab

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self.reader is not None:
            self.reader.cancel()
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        shutil.rmtree(self.profile, ignore_errors=True)


class Tab:
    def __init__(self, browser: Browser, session: str) -> None:
        self.browser = browser
        self.session = session

    async def js(self, expression: str) -> Any:
        result = await self.browser.send("Runtime.evaluate", self.session, expression=expression,
                                         awaitPromise=True, returnByValue=True)
        assert "exceptionDetails" not in result, result
        return result["result"].get("value")

    async def until(self, expression: str, timeout: float = 15.0) -> Any:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            value = await self.js(expression)
            if value:
                return value
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"timed out waiting for: {expression}")
            await asyncio.sleep(0.1)

    async def sign_in(self, token: str, conversation: str) -> None:
        await self.js(f"document.getElementById('token').value = {json.dumps(token)};"
                      "document.getElementById('signin').requestSubmit(); true")
        await self.until(f"!!document.querySelector('#conversations li[data-sid=\"{conversation}\"]')")
        await self.js(f"document.querySelector('#conversations li[data-sid=\"{conversation}\"]').click(); true")
        await self.until("!document.getElementById('body').disabled")

    def has_message(self, body: str) -> str:
        return f"[...document.querySelectorAll('.message .body')].some(e => e.textContent === {json.dumps(body)})"


def test_two_users_chat_in_the_browser(server: Server, mint: Mint, ident: Any) -> None:
    binary = _chromium()
    ann, ben = ident("ann"), ident("ben")
    rest = server.client().conversations.v1  # type: ignore[attr-defined]
    conv = rest.conversations.create(friendly_name="browser chat")
    for who in (ann, ben):
        rest.conversations(conv.sid).participants.create(identity=who)

    async def scenario() -> None:
        browser = Browser(binary)
        try:
            await browser.start()
            a = await browser.tab(server.url + "/chat")
            b = await browser.tab(server.url + "/chat")
            await a.sign_in(mint(ann), conv.sid)
            await b.sign_in(mint(ben), conv.sid)

            # ann types: ben sees it; ann sends: ben sees the message and the typing indicator goes away
            await a.js("const i = document.getElementById('body'); i.value = 'hello ben';"
                       "i.dispatchEvent(new Event('input')); true")
            await b.until(f"document.getElementById('typing').textContent.includes({json.dumps(ann)})")
            await a.js("document.getElementById('composer').requestSubmit(); true")
            await b.until(b.has_message("hello ben"))
            await b.until("document.getElementById('typing').textContent === ''")

            # ben has the conversation open, so he reads it: ann sees "read by ben"
            await a.until(f"[...document.querySelectorAll('.message .read')]"
                          f".some(e => e.textContent.includes({json.dumps(ben)}))")

            # and back
            await b.js("const i = document.getElementById('body'); i.value = 'hi ann';"
                       "document.getElementById('composer').requestSubmit(); true")
            await a.until(a.has_message("hi ann"))

            # a message posted through REST appears live in both
            rest.conversations(conv.sid).messages.create(author="system", body="from REST")
            await a.until(a.has_message("from REST"))
            await b.until(b.has_message("from REST"))
        finally:
            await browser.close()

    run(scenario())
