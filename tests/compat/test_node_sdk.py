"""One flow through the official Node helper library (npm `twilio`, pinned in tests/node/package.json):
tests/node/flow.mjs creates a conversation, adds a chat and an SMS participant, posts two messages, lists
them one per page and expects RestException 404/20404 for a missing conversation.

Skipped when `node`/`npm` are not installed (a fresh machine with only Python); with
HUBBUB_REQUIRE_NODE=1 (set by .ci/run) a missing Node fails instead of skipping."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

NODE_DIR = Path(__file__).resolve().parent.parent / "node"


def _require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        reason = f"`{tool}` is not installed: the twilio-node flow (tests/node) needs Node.js and npm"
        if os.environ.get("HUBBUB_REQUIRE_NODE"):
            pytest.fail(reason + " (HUBBUB_REQUIRE_NODE is set)")
        pytest.skip(reason)
    return path


@pytest.fixture(scope="session")
def node_flow() -> list[str]:
    """The command that runs flow.mjs, after installing the locked dependencies once."""
    node = _require("node")
    npm = _require("npm")
    pinned = json.loads((NODE_DIR / "package.json").read_text())["dependencies"]["twilio"]
    installed = NODE_DIR / "node_modules" / "twilio" / "package.json"
    if not installed.exists() or json.loads(installed.read_text())["version"] != pinned:
        result = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR, capture_output=True, text=True, timeout=600
        )
        assert result.returncode == 0, f"npm ci failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return [node, str(NODE_DIR / "flow.mjs")]


def test_node_sdk_flow(server: Any, node_flow: list[str]) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("TWILIO_REGION", "TWILIO_EDGE")}
    env.update(
        HUBBUB_URL=server.url, HUBBUB_ACCOUNT_SID=server.account_sid, HUBBUB_AUTH_TOKEN=server.auth_token
    )
    result = subprocess.run(node_flow, cwd=NODE_DIR, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"flow.mjs failed:\n{result.stdout}\n{result.stderr}"
    assert "node flow: all steps passed" in result.stdout
