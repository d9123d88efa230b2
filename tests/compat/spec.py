"""Twilio's Conversations v1 OpenAPI document (shared/reference/twilio_conversations_v1.json) as test data:
its 103 operations, and a JSON Schema validator for each operation's success response.

The spec is OpenAPI 3.0, so a response schema is turned into JSON Schema before it is used:
- `$ref`s are inlined; `nullable: true` admits `null`;
- every object with declared `properties` must carry exactly those fields (`required` = all of them,
  no others), the contract Twilio's responses keep and the SDKs rely on; the list envelope's `meta`
  must carry all seven keys;
- `date-time` must be `YYYY-MM-DDTHH:MM:SSZ` (what twilio-python parses), `uri` an absolute http(s) URL,
  `uri-map` (`links`) an object of absolute URLs.
Enum fields are `$ref`s without a `nullable` flag, yet Twilio returns `null` for an unset enum (the spec's
own examples do, e.g. an unconfigured service webhook's `method`), so enums also admit `null`.

The spec is read from ../shared/reference/ (beside the checkout, as CI lays it out) or $HUBBUB_TWILIO_SPEC;
without it the tests that need it are skipped, except in CI (CI=true), where they fail.
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from jsonschema import Draft4Validator, FormatChecker

REL = Path("shared/reference/twilio_conversations_v1.json")


def _find_spec() -> Path | None:
    """$HUBBUB_TWILIO_SPEC, else the copy in tests/compat/twilio_spec/, else shared/reference/."""
    root = Path(__file__).resolve().parents[2]
    vendored = Path(__file__).resolve().parent / "twilio_spec" / REL.name
    candidates = [vendored, root.parent / REL, root / REL]
    if os.environ.get("HUBBUB_TWILIO_SPEC"):
        candidates = [Path(os.environ["HUBBUB_TWILIO_SPEC"])]
    return next((path for path in candidates if path.is_file()), None)


SPEC_PATH = _find_spec()


def require_spec() -> None:
    """Skip the calling test module when the spec is not there (a checkout without shared/); in CI, fail."""
    if SPEC_PATH is None:
        reason = f"Twilio's OpenAPI spec is not at ../{REL}; set HUBBUB_TWILIO_SPEC to its path"
        if os.environ.get("CI"):
            raise FileNotFoundError(reason)
        pytest.skip(reason, allow_module_level=True)


METHODS = ("get", "post", "delete")
META_KEYS = {"page", "page_size", "first_page_url", "previous_page_url", "url", "next_page_url", "key"}
DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


@cache
def spec() -> dict[str, Any]:
    require_spec()
    assert SPEC_PATH is not None
    return json.loads(SPEC_PATH.read_text())  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str  # upper case
    path: str  # e.g. /v1/Conversations/{ConversationSid}/Messages
    success: tuple[int, ...]  # the spec's declared statuses, e.g. (201,) or (201, 202)
    raw: dict[str, Any]

    @property
    def path_params(self) -> list[str]:
        return re.findall(r"{(\w+)}", self.path)

    def response_schema(self) -> dict[str, Any] | None:
        """The converted JSON Schema of the first declared success response, None when it has no body."""
        response = self.raw["responses"][str(self.success[0])]
        content = response.get("content", {}).get("application/json")
        return None if content is None else to_json_schema(content["schema"])

    @property
    def list_key(self) -> str | None:
        """For list operations, the name of the records array (the envelope's other key is `meta`)."""
        schema = self.raw["responses"][str(self.success[0])].get("content", {}).get("application/json", {})
        props = schema.get("schema", {}).get("properties", {})
        if "meta" not in props:
            return None
        (key,) = (k for k in props if k != "meta")
        return key

    def form_params(self) -> dict[str, dict[str, Any]]:
        body = self.raw.get("requestBody", {}).get("content", {}).get("application/x-www-form-urlencoded", {})
        return dict(body.get("schema", {}).get("properties", {}))

    def required_form_params(self) -> list[str]:
        body = self.raw.get("requestBody", {}).get("content", {}).get("application/x-www-form-urlencoded", {})
        return list(body.get("schema", {}).get("required", []))


@cache
def operations() -> tuple[Operation, ...]:
    ops = []
    for path, item in spec()["paths"].items():
        for method in METHODS:
            if method in item:
                op = item[method]
                ops.append(
                    Operation(
                        op["operationId"],
                        method.upper(),
                        path,
                        tuple(sorted(int(s) for s in op["responses"])),
                        op,
                    )
                )
    return tuple(ops)


def _resolve(ref: str) -> dict[str, Any]:
    node: Any = spec()
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node  # type: ignore[no-any-return]


def to_json_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """OpenAPI 3.0 schema object → strict JSON Schema (see the module docstring)."""
    if "$ref" in schema:
        resolved = to_json_schema(_resolve(schema["$ref"]))
        if "enum" in resolved:  # an unset enum comes back as null
            resolved["enum"] = [*resolved["enum"], None]
            resolved["type"] = [resolved["type"], "null"]
        return resolved
    out = {
        k: copy.deepcopy(v)
        for k, v in schema.items()
        if k
        not in (
            "nullable",
            "description",
            "x-twilio",
            "example",
            "examples",
            "title",
            "properties",
            "items",
            "default",
            "readOnly",
            "writeOnly",
            "deprecated",
        )
    }
    nullable = schema.get("nullable", False)
    if "properties" in schema:
        out["properties"] = {name: to_json_schema(sub) for name, sub in schema["properties"].items()}
        out["required"] = sorted(schema["properties"])
        out["additionalProperties"] = False
    if "items" in schema:
        out["items"] = to_json_schema(schema["items"])
    if nullable:
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    return out


FORMATS = FormatChecker(formats=())


@FORMATS.checks("date-time")
def _date_time(value: object) -> bool:
    return not isinstance(value, str) or bool(DATE_TIME.match(value))


def is_absolute_url(value: object) -> bool:
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


@FORMATS.checks("uri")
def _uri(value: object) -> bool:
    return not isinstance(value, str) or is_absolute_url(value)


@FORMATS.checks("uri-map")
def _uri_map(value: object) -> bool:
    return not isinstance(value, dict) or all(is_absolute_url(v) for v in value.values())


def validator(schema: dict[str, Any]) -> Draft4Validator:
    return Draft4Validator(schema, format_checker=FORMATS)


def schema_errors(schema: dict[str, Any], body: Any) -> list[str]:
    """Every way `body` breaks `schema`, as `path: message` lines (empty when it conforms)."""
    return [
        f"{'/'.join(str(p) for p in e.absolute_path) or '<body>'}: {e.message}"
        for e in sorted(validator(schema).iter_errors(body), key=lambda e: list(map(str, e.absolute_path)))
    ]


def own_urls(body: Any) -> Iterator[tuple[str, str]]:
    """(where, url) for every URL in a response that must point back at the server: each resource's `url`,
    its `links`, and the page URLs in `meta` (user-supplied URLs such as webhook targets are not included)."""
    if not isinstance(body, dict):
        return
    if "meta" in body and isinstance(body["meta"], dict):
        for k in ("first_page_url", "previous_page_url", "url", "next_page_url"):
            if body["meta"].get(k) is not None:
                yield f"meta.{k}", body["meta"][k]
        key = body["meta"].get("key")
        for i, item in enumerate(body.get(key, []) if isinstance(key, str) else []):
            for where, url in own_urls(item):
                yield f"{key}[{i}].{where}", url
        return
    if isinstance(body.get("url"), str):
        yield "url", body["url"]
    if isinstance(body.get("links"), dict):
        for k, v in body["links"].items():
            yield f"links.{k}", v
