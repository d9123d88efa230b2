"""Rows → the JSON objects of the client protocol (docs/client-protocol.md §4). Dates are ISO 8601 UTC."""

from __future__ import annotations

from typing import Any

import orjson

from hubbub.domain.clock import iso


def _json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return value


def message(row: Any) -> dict[str, Any]:
    return {
        "sid": row["sid"], "conversation_sid": row["conversation_sid"], "index": row["index"],
        "author": row["author"], "body": row["body"], "attributes": row["attributes"],
        "participant_sid": row["participant_sid"], "media": _json(row["media"]) if row["media"] else None,
        "date_created": iso(row["date_created"]), "date_updated": iso(row["date_updated"]),
    }


def conversation(row: Any) -> dict[str, Any]:
    return {
        "sid": row["sid"], "chat_service_sid": row["chat_service_sid"], "friendly_name": row["friendly_name"],
        "unique_name": row["unique_name"], "attributes": row["attributes"], "state": row["state"],
        "created_by": row.get("created_by"), "date_created": iso(row["date_created"]),
        "date_updated": iso(row["date_updated"]),
    }


def participant(row: Any) -> dict[str, Any]:
    return {
        "sid": row["sid"], "conversation_sid": row["conversation_sid"], "identity": row["identity"],
        "attributes": row["attributes"], "role_sid": row["role_sid"],
        "messaging_binding": None if row["address"] is None else {
            "type": row["binding_type"], "address": row["address"], "proxy_address": row["proxy_address"]},
        "last_read_message_index": row["last_read_message_index"],
        "last_read_timestamp": row["last_read_timestamp"],
        "date_created": iso(row["date_created"]), "date_updated": iso(row["date_updated"]),
    }


def user(row: Any) -> dict[str, Any]:
    return {
        "sid": row["sid"], "identity": row["identity"], "friendly_name": row["friendly_name"],
        "attributes": row["attributes"], "role_sid": row["role_sid"], "is_online": row["is_online"],
        "is_notifiable": row["is_notifiable"], "date_created": iso(row["date_created"]),
        "date_updated": iso(row["date_updated"]),
    }


def my_conversation(row: dict[str, Any]) -> dict[str, Any]:
    body = conversation(row)
    body.update({
        "participant_sid": row["participant_sid"], "notification_level": row["notification_level"] or "default",
        "last_read_message_index": row["last_read_message_index"],
        "unread_messages_count": None if row["unread_messages_count"] is None
        else min(int(row["unread_messages_count"]), 1000),
        "last_message": message(row["last_message"]) if row["last_message"] else None,
        "last_activity": iso(row["last_activity"]),
    })
    return body


def delivery(data: dict[str, Any]) -> dict[str, Any]:
    return {k: (iso(v) if k.startswith("date_") and isinstance(v, int) else v) for k, v in data.items()}


# outbox event type → (client event name, the payload key, its renderer)
EVENTS: dict[str, tuple[str, str, Any]] = {
    "onMessageAdded": ("messageAdded", "message", message),
    "onMessageUpdated": ("messageUpdated", "message", message),
    "onMessageRemoved": ("messageRemoved", "message", message),
    "onParticipantAdded": ("participantJoined", "participant", participant),
    "onParticipantUpdated": ("participantUpdated", "participant", participant),
    "onParticipantRemoved": ("participantLeft", "participant", participant),
    "onConversationAdded": ("conversationAdded", "conversation", conversation),
    "onConversationUpdated": ("conversationUpdated", "conversation", conversation),
    "onConversationRemoved": ("conversationRemoved", "conversation", conversation),
    "onUserUpdated": ("userUpdated", "user", user),
    "onDeliveryUpdated": ("deliveryUpdated", "receipt", delivery),
}
