"""Rows → the exact JSON shapes of Twilio's Conversations v1 resources."""

from __future__ import annotations

from typing import Any

import orjson

from hubbub.api.http import Call
from hubbub.domain.clock import iso


def conversation(call: Call, row: Any) -> dict[str, Any]:
    url = f"{call.prefix}/Conversations/{row['sid']}"
    timers: dict[str, str] = {}
    if row["date_inactive"] is not None:
        timers["date_inactive"] = iso(row["date_inactive"])  # type: ignore[assignment]
    if row["date_closed"] is not None:
        timers["date_closed"] = iso(row["date_closed"])  # type: ignore[assignment]
    return {
        "account_sid": row["account_sid"],
        "chat_service_sid": row["chat_service_sid"],
        "messaging_service_sid": row["messaging_service_sid"],
        "sid": row["sid"],
        "friendly_name": row["friendly_name"],
        "unique_name": row["unique_name"],
        "attributes": row["attributes"],
        "state": row["state"],
        "date_created": iso(row["date_created"]),
        "date_updated": iso(row["date_updated"]),
        "timers": timers,
        "url": url,
        "links": {
            "participants": f"{url}/Participants",
            "messages": f"{url}/Messages",
            "webhooks": f"{url}/Webhooks",
            "export": f"{url}/Export",
        },
        "bindings": orjson.loads(row["bindings"]),
    }


def messaging_binding(row: Any) -> dict[str, Any] | None:
    if row["binding_type"] is None:
        return None
    binding: dict[str, Any] = {"type": row["binding_type"]}
    if row["address"] is not None:
        binding["address"] = row["address"]
        if row["proxy_address"] is not None:
            binding["proxy_address"] = row["proxy_address"]
    if row["projected_address"] is not None:
        binding["projected_address"] = row["projected_address"]
    return binding


def participant(call: Call, row: Any) -> dict[str, Any]:
    body = {
        "account_sid": row["account_sid"],
        "conversation_sid": row["conversation_sid"],
        "sid": row["sid"],
        "identity": row["identity"],
        "attributes": row["attributes"],
        "messaging_binding": messaging_binding(row),
        "role_sid": row["role_sid"],
        "date_created": iso(row["date_created"]),
        "date_updated": iso(row["date_updated"]),
        "url": f"{call.prefix}/Conversations/{row['conversation_sid']}/Participants/{row['sid']}",
        "last_read_message_index": row["last_read_message_index"],
        "last_read_timestamp": row["last_read_timestamp"],
    }
    if call.scope.service_sid:
        body["chat_service_sid"] = row["chat_service_sid"]
    return body


def message(call: Call, row: Any, delivery: dict[str, Any] | None) -> dict[str, Any]:
    url = f"{call.prefix}/Conversations/{row['conversation_sid']}/Messages/{row['sid']}"
    body = {
        "account_sid": row["account_sid"],
        "conversation_sid": row["conversation_sid"],
        "sid": row["sid"],
        "index": row["index"],
        "author": row["author"],
        "body": row["body"],
        "media": orjson.loads(row["media"]) if row["media"] else None,
        "attributes": row["attributes"],
        "participant_sid": row["participant_sid"],
        "date_created": iso(row["date_created"]),
        "date_updated": iso(row["date_updated"]),
        "url": url,
        "delivery": delivery,
        "links": {"delivery_receipts": f"{url}/Receipts", "channel_metadata": f"{url}/ChannelMetadata"},
        "content_sid": row["content_sid"],
    }
    if call.scope.service_sid:
        body["chat_service_sid"] = row["chat_service_sid"]
    return body


def receipt(call: Call, row: Any) -> dict[str, Any]:
    body = {
        "account_sid": row["account_sid"],
        "conversation_sid": row["conversation_sid"],
        "sid": row["sid"],
        "message_sid": row["message_sid"],
        "channel_message_sid": row["channel_message_sid"],
        "participant_sid": row["participant_sid"],
        "status": row["status"],
        "error_code": row["error_code"],
        "date_created": iso(row["date_created"]),
        "date_updated": iso(row["date_updated"]),
        "url": f"{call.prefix}/Conversations/{row['conversation_sid']}/Messages/{row['message_sid']}"
               f"/Receipts/{row['sid']}",
    }
    if call.scope.service_sid:
        body["chat_service_sid"] = row["chat_service_sid"]
    return body


def configuration(call: Call, row: Any) -> dict[str, Any]:
    return {
        "account_sid": row["account_sid"],
        "default_chat_service_sid": row["default_chat_service_sid"],
        "default_messaging_service_sid": row["default_messaging_service_sid"],
        "default_inactive_timer": row["default_inactive_timer"],
        "default_closed_timer": row["default_closed_timer"],
        "url": f"{call.base_url}/v1/Configuration",
        "links": {
            "service": f"{call.base_url}/v1/Services/{row['default_chat_service_sid']}/Configuration",
            "webhooks": f"{call.base_url}/v1/Configuration/Webhooks",
        },
    }
