"""Fuzz every operation of Twilio's Conversations v1 spec with schemathesis against a live server.

For each operation, Hypothesis draws requests from schemathesis's strategies — schema-valid (positive)
and schema-breaking (negative) ones, with generated path parameters (junk SIDs, unique names, …) and,
where the operation has any, with real ones (a fresh `spec_world.World` per operation) so that bodies
reach the validation behind a found resource. Every response must be:
- never a 5xx;
- a 2xx only with a status the spec declares, and then a body that passes the strict schema check of
  tests/compat/spec.py (a delete: empty), with `url`/`links`/page URLs pointing back at the server;
- any 4xx a Twilio-style error body (`code`, `message`, `more_info`, `status`). The spec declares no 4xx,
  so which 4xx is not checked.
On a failure Hypothesis shrinks to a minimal request, shown as a curl command.

Random search may miss the classic PostgreSQL 500 (a NUL byte in a text column or filter), so
`test_hostile_values` also sends, deterministically, the walk's valid request for each operation with one
query or form parameter at a time replaced by a value with a NUL byte or a 5,000-character one.

The run has a server of its own (on each backend), so the account configuration and webhooks it changes
do not leak into other tests. Bounded for CI: HUBBUB_FUZZ_EXAMPLES examples per operation (default 12),
derandomized so that a run is repeatable; set HUBBUB_FUZZ_SEED to explore other inputs.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from sqlalchemy import create_engine

from hubbub.store.database import sqlalchemy_url
from tests.conftest import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    Server,
    _backends,
    scratch_database,
    start_server,
    stop_server,
)

from . import spec
from .spec_world import PrerequisiteFailed, World, path_values
from .test_spec_walk import build_request

MAX_EXAMPLES = int(os.environ.get("HUBBUB_FUZZ_EXAMPLES", "12"))
SEED = os.environ.get("HUBBUB_FUZZ_SEED")
OPERATIONS = {op.operation_id: op for op in spec.operations()}


@pytest.fixture(scope="module", params=_backends())
def fuzz_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    backend: str = request.param
    tmp = tmp_path_factory.mktemp(f"fuzz-{backend}")
    with scratch_database(backend, tmp, "hubbub_fuzz") as database_url:
        process, url = start_server(database_url, tmp / "server.log")
        engine = create_engine(sqlalchemy_url(database_url))
        try:
            yield Server(backend, url, database_url, process, tmp / "server.log", engine)
        finally:
            stop_server(process)
            engine.dispose()
            log_text = (tmp / "server.log").read_text(errors="replace")
            assert "unhandled error" not in log_text, log_text[-5000:]


class Fuzz:
    def __init__(self, server: Server) -> None:
        self.server = server
        self.schema = schemathesis.openapi.from_dict(spec.spec())
        # The spec's server is https://conversations.twilio.com: point it here, with HTTP Basic auth
        # (and no generated Authorization headers, so every request gets past authentication).
        self.schema.config.update(base_url=server.url, basic_auth=(ACCOUNT_SID, AUTH_TOKEN))
        self.schema.config.generation.update(with_security_parameters=False)
        self.session = requests.Session()


@pytest.fixture(scope="module")
def fuzz(fuzz_server: Server) -> Iterator[Fuzz]:
    f = Fuzz(fuzz_server)
    yield f
    f.session.close()


def problems(op: spec.Operation, response: requests.Response, base_url: str) -> list[str]:
    """What is wrong with `response` (empty when nothing is)."""
    status = response.status_code
    if status >= 500:
        return [f"{status} server error: {response.text[:300]}"]
    if 400 <= status < 500:
        try:
            body = response.json()
        except ValueError:
            return [f"{status} without a JSON error body: {response.text[:200]!r}"]
        if not (
            isinstance(body, dict)
            and isinstance(body.get("code"), int)
            and isinstance(body.get("message"), str)
            and body.get("status") == status
            and body.get("more_info") == f"https://www.twilio.com/docs/errors/{body.get('code')}"
        ):
            return [f"{status} with a body that is not a Twilio error: {response.text[:300]}"]
        return []
    if status not in op.success:
        return [f"{status}: the spec's success status is {op.success}: {response.text[:300]}"]
    schema = op.response_schema()
    if schema is None:
        return [] if response.content == b"" else [f"{status} with a body: {response.content[:200]!r}"]
    try:
        body = response.json()
    except ValueError:
        return [f"{status} with a body that is not JSON: {response.text[:200]!r}"]
    found = spec.schema_errors(schema, body)
    found += [
        f"{where} does not point at the server: {url}"
        for where, url in spec.own_urls(body)
        if not url.startswith(base_url + "/v1/")
    ]
    return found


@pytest.mark.parametrize("operation_id", list(OPERATIONS), ids=list(OPERATIONS))
def test_fuzz(fuzz: Fuzz, operation_id: str) -> None:
    op = OPERATIONS[operation_id]
    operation = fuzz.schema.find_operation_by_id(operation_id)
    modes = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    strategies = [operation.as_strategy(mode) for mode in modes]
    if op.path_params:
        try:  # resources of its own, so that what an earlier operation's fuzzing did cannot get in the way
            real = path_values(op, World(fuzz.server))
        except PrerequisiteFailed:
            real = None  # the walk reports that; fuzz with generated path parameters only
        if real:
            strategies += [operation.as_strategy(mode, path_parameters=real) for mode in modes]

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=SEED is None,
        suppress_health_check=list(HealthCheck),
        print_blob=False,
        phases=[p for p in Phase if p is not Phase.explain],  # shrink to a minimal request, skip the rest
    )
    @given(case=st.one_of(strategies))
    def check(case: Any) -> None:
        response = case.call(session=fuzz.session, timeout=30)
        found = problems(op, response, fuzz.server.url)
        assert not found, f"{case.as_curl_command()}\n→ " + "\n  ".join(found)

    if SEED is not None:
        check = seed(int(SEED))(check)
    check()


HOSTILE = ("a\x00b", "x" * 5000)


def _value_params(op: spec.Operation) -> list[str]:
    return [p["name"] for p in op.raw.get("parameters", []) if p["in"] == "query"] + list(op.form_params())


WITH_VALUES = [op_id for op_id, op in OPERATIONS.items() if _value_params(op)]


@pytest.mark.parametrize("operation_id", WITH_VALUES, ids=WITH_VALUES)
def test_hostile_values(fuzz: Fuzz, operation_id: str) -> None:
    op = OPERATIONS[operation_id]
    names = _value_params(op)
    try:
        path, form, query = build_request(op, World(fuzz.server))
    except PrerequisiteFailed as e:
        pytest.fail(f"prerequisite failed (see test_spec_walk) — {e}")
    found = []
    for name in names:
        for value in HOSTILE:
            in_query = name not in op.form_params()
            q = dict(query, **{name: value}) if in_query else query
            f = form if in_query else dict(form, **{name: value})
            response = fuzz.session.request(
                op.method,
                fuzz.server.url + path,
                params=q,
                data=f if op.method == "POST" else None,
                auth=(ACCOUNT_SID, AUTH_TOKEN),
                timeout=30,
            )
            found += [f"{name}={value[:8]!r}…: {p}" for p in problems(op, response, fuzz.server.url)]
    assert not found, f"{op.method} {path}\n" + "\n".join(found)
