"""The JavaScript SDK (hubbub/realtime/static/hubbub-chat.js) end to end under Node 20's global WebSocket
(tests/realtime/js_flow.mjs): messages, typing, batched read horizon, a REST message arriving live, resume
after a dropped connection and a permission denial; plus the SDK, its declarations and /chat are served.

Skipped when `node` is missing (HUBBUB_REQUIRE_NODE=1 makes that a failure, as for tests/node)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Server
from tests.realtime.conftest import Mint

HERE = Path(__file__).resolve().parent
STATIC = HERE.parent.parent / "hubbub" / "realtime" / "static"


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        if os.environ.get("HUBBUB_REQUIRE_NODE"):
            pytest.fail("`node` is not installed (HUBBUB_REQUIRE_NODE is set)")
        pytest.skip("`node` is not installed")
    return node


def test_js_sdk_flow(server: Server, mint: Mint, ident: Any) -> None:
    env = dict(os.environ, HUBBUB_URL=server.url, HUBBUB_ACCOUNT_SID=server.account_sid,
               HUBBUB_AUTH_TOKEN=server.auth_token, TOKEN_A=mint(ident("ann")), TOKEN_B=mint(ident("ben")))
    result = subprocess.run([_node(), "--experimental-websocket", "--no-warnings", str(HERE / "js_flow.mjs")],
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"js_flow.mjs failed:\n{result.stdout}\n{result.stderr}"
    assert "js flow: all steps passed" in result.stdout


@pytest.mark.parametrize("path, name, media_type", [
    ("/sdk/hubbub-chat.js", "hubbub-chat.js", "text/javascript"),
    ("/sdk/hubbub-chat.d.ts", "hubbub-chat.d.ts", "application/typescript"),
    ("/chat", "chat.html", "text/html"),
])
def test_sdk_and_chat_page_are_served(server: Server, path: str, name: str, media_type: str) -> None:
    response = server.http("GET", path, auth=("", ""))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(media_type)
    assert response.content == (STATIC / name).read_bytes()


def test_chat_page_uses_the_sdk(server: Server) -> None:
    page = server.http("GET", "/chat").text
    assert '<script type="module">' in page and 'from "/sdk/hubbub-chat.js"' in page
