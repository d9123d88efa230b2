"""Events → the form parameters Twilio sends for them (twilio-behaviour.md §1.4).

An event is what `actions.common.emit` records: a type (`onMessageAdded`, …) and `data` holding the
resource row (`conversation`, `message`, `participant`, `user`, or a delivery `receipt`) plus, for
`onConversationStateUpdated`, `state_from`, `state_to` and `reason`. Pre-action events (`onMessageAdd`, …)
are built from the same shapes, with the row as it would be after the action.

Every request carries `AccountSid`, `EventType`, `Source` and, for SDK actions, `ClientIdentity`; the
dispatcher adds `RetryCount` per attempt. Conversation-bound events also carry `ChatServiceSid`. A
parameter whose value is null is left out, as Twilio does (e.g. `ClientIdentity` on REST actions,
`ProxyAddress` of a chat participant). Dates are ISO 8601 in UTC with milliseconds
(`2024-05-01T12:00:00.000Z`); `Attributes` is the JSON string; `Media` a JSON array of
`{Sid, Filename, ContentType, Size}`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import orjson

Params = list[tuple[str, str]]

_BINDING = ("MessagingBinding.ProxyAddress", "MessagingBinding.Address", "MessagingBinding.ProjectedAddress")
_CONVERSATION = ("ConversationSid", "DateCreated", "DateUpdated", "FriendlyName", "UniqueName", "Attributes",
                 "ChatServiceSid", "MessagingServiceSid", "State")
_MESSAGE = ("ConversationSid", "MessageSid", "Index", "DateCreated", "DateUpdated", "Body", "Author",
            "ParticipantSid", "Attributes", "Media")
_PARTICIPANT_ADD = ("ConversationSid", "Identity", "RoleSid", "Attributes", *_BINDING, "MessagingBinding.Type")
_PARTICIPANT = ("ConversationSid", "ParticipantSid", "DateCreated", "DateUpdated", "Identity", "RoleSid",
                "Attributes", *_BINDING, "MessagingBinding.Type")
_USER = ("ChatServiceSid", "UserSid", "DateUpdated", "Identity", "RoleSid", "Attributes", "FriendlyName")

# Per event, the parameters beyond the common ones, as twilio-behaviour.md §1.4 lists them.
EVENT_PARAMS: dict[str, tuple[str, ...]] = {
    "onConversationAdd": ("FriendlyName", "UniqueName", "Attributes", "ChatServiceSid", "MessagingServiceSid",
                          *_BINDING, "MessagingBinding.AuthorAddress", "MessageBody", "Media", "State"),
    "onConversationAdded": ("ConversationSid", "DateCreated", "DateUpdated", "FriendlyName", "UniqueName",
                            "Attributes", "ChatServiceSid", "MessagingServiceSid", *_BINDING,
                            "MessagingBinding.AuthorAddress", "State"),
    "onConversationUpdate": _CONVERSATION,
    "onConversationUpdated": _CONVERSATION,
    "onConversationRemove": _CONVERSATION,
    "onConversationRemoved": (*_CONVERSATION, "DateRemoved"),
    "onConversationStateUpdated": ("ChatServiceSid", "StateUpdated", "StateFrom", "StateTo", "ConversationSid",
                                   "Reason", "MessagingServiceSid"),
    "onMessageAdd": ("ConversationSid", "Body", "Author", "ParticipantSid", "Attributes", "Media"),
    "onMessageAdded": ("ConversationSid", "MessageSid", "MessagingServiceSid", "Index", "DateCreated", "Body",
                       "Author", "ParticipantSid", "Attributes", "Media"),
    "onMessageUpdate": _MESSAGE,
    "onMessageUpdated": _MESSAGE,
    "onMessageRemove": _MESSAGE,
    "onMessageRemoved": (*_MESSAGE, "DateRemoved"),
    "onParticipantAdd": _PARTICIPANT_ADD,
    "onParticipantAdded": (*_PARTICIPANT_ADD, "ParticipantSid", "DateCreated"),
    "onParticipantUpdate": _PARTICIPANT,
    "onParticipantUpdated": (*_PARTICIPANT, "LastReadMessageIndex"),
    "onParticipantRemove": _PARTICIPANT,
    "onParticipantRemoved": (*_PARTICIPANT, "DateRemoved"),
    "onDeliveryUpdated": ("ConversationSid", "ChatServiceSid", "MessageSid", "DeliveryReceiptSid",
                          "ChannelMessageSid", "ParticipantSid", "Status", "ErrorCode", "DateCreated",
                          "DateUpdated"),
    "onUserAdded": ("ChatServiceSid", "UserSid", "DateCreated", "Identity", "RoleSid", "Attributes",
                    "FriendlyName"),
    "onUserUpdate": _USER,
    "onUserUpdated": (*_USER, "DateCreated", "isOnline", "isNotifiable"),
}

PRE_EVENTS = frozenset(name for name in EVENT_PARAMS if not name.endswith("ed"))
POST_EVENTS = frozenset(EVENT_PARAMS) - PRE_EVENTS


def webhook_date(ts: int | float | None) -> str | None:
    return None if ts is None else _webhook_date(int(ts))


@lru_cache(maxsize=256)
def _webhook_date(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def wire_source(source: str) -> str:
    """`Source` as Twilio names it: `API` (REST, and Hubbub's timers), `SDK`, or the channel (`SMS`, …)."""
    return "API" if source in ("API", "TIMER", "SYSTEM") else source


def _bool(value: Any) -> str | None:
    return None if value is None else ("true" if value else "false")


def _media(raw: Any) -> str | None:
    if not raw:
        return None
    items = orjson.loads(raw) if isinstance(raw, str | bytes) else raw
    if not items:
        return None
    return orjson.dumps([{"Sid": m.get("sid"), "Filename": m.get("filename"),
                          "ContentType": m.get("content_type"), "Size": m.get("size")} for m in items]).decode()


def _binding_values(row: Mapping[str, Any], values: dict[str, Any]) -> None:
    if "binding_type" in row:  # a participant
        values["MessagingBinding.Address"] = row.get("address")
        values["MessagingBinding.ProxyAddress"] = row.get("proxy_address")
        values["MessagingBinding.ProjectedAddress"] = row.get("projected_address")
        kind = row.get("binding_type")
        values["MessagingBinding.Type"] = "CHAT" if kind is None else str(kind).upper()
        return
    raw = row.get("bindings")  # a conversation: the channel binding, if one was recorded
    try:
        bindings = orjson.loads(raw) if isinstance(raw, str | bytes) else (raw or {})
    except orjson.JSONDecodeError:
        bindings = {}
    binding = bindings.get("messaging_binding") or bindings.get("sms") or bindings.get("whatsapp") or {}
    if isinstance(binding, Mapping):
        for key, name in (("proxy_address", "ProxyAddress"), ("address", "Address"),
                          ("projected_address", "ProjectedAddress"), ("author_address", "AuthorAddress")):
            values[f"MessagingBinding.{name}"] = binding.get(key)


def _row_values(data: Mapping[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    conversation = data.get("conversation")
    if conversation is not None:
        values.update({
            "ConversationSid": conversation.get("sid"),
            "DateCreated": webhook_date(conversation.get("date_created")),
            "DateUpdated": webhook_date(conversation.get("date_updated")),
            "FriendlyName": conversation.get("friendly_name"),
            "UniqueName": conversation.get("unique_name"),
            "Attributes": conversation.get("attributes"),
            "ChatServiceSid": conversation.get("chat_service_sid"),
            "MessagingServiceSid": conversation.get("messaging_service_sid"),
            "State": conversation.get("state"),
            "StateUpdated": webhook_date(conversation.get("date_updated")),
        })
        _binding_values(conversation, values)
    message = data.get("message")
    if message is not None:
        created = message.get("date_created")
        values.update({
            "ConversationSid": message.get("conversation_sid"),
            "ChatServiceSid": message.get("chat_service_sid"),
            "MessageSid": message.get("sid"),
            "Index": message.get("index"),
            "DateCreated": webhook_date(created),
            "DateUpdated": webhook_date(message.get("date_updated") or created),
            "Body": message.get("body"),
            "Author": message.get("author"),
            "ParticipantSid": message.get("participant_sid"),
            "Attributes": message.get("attributes"),
            "Media": _media(message.get("media")),
        })
    participant = data.get("participant")
    if participant is not None:
        values.update({
            "ConversationSid": participant.get("conversation_sid"),
            "ChatServiceSid": participant.get("chat_service_sid"),
            "ParticipantSid": participant.get("sid"),
            "DateCreated": webhook_date(participant.get("date_created")),
            "DateUpdated": webhook_date(participant.get("date_updated")),
            "Identity": participant.get("identity"),
            "RoleSid": participant.get("role_sid"),
            "Attributes": participant.get("attributes"),
            "LastReadMessageIndex": participant.get("last_read_message_index"),
        })
        _binding_values(participant, values)
    user = data.get("user")
    if user is not None:
        values.update({
            "ChatServiceSid": user.get("chat_service_sid"),
            "UserSid": user.get("sid"),
            "DateCreated": webhook_date(user.get("date_created")),
            "DateUpdated": webhook_date(user.get("date_updated")),
            "Identity": user.get("identity"),
            "RoleSid": user.get("role_sid"),
            "Attributes": user.get("attributes"),
            "FriendlyName": user.get("friendly_name"),
            "isOnline": _bool(user.get("is_online")),
            "isNotifiable": _bool(user.get("is_notifiable")),
        })
    receipt = data.get("receipt") or data.get("delivery_receipt")
    if receipt is not None:
        values.update({
            "ConversationSid": receipt.get("conversation_sid"),
            "ChatServiceSid": receipt.get("chat_service_sid"),
            "MessageSid": receipt.get("message_sid"),
            "DeliveryReceiptSid": receipt.get("sid"),
            "ChannelMessageSid": receipt.get("channel_message_sid"),
            "ParticipantSid": receipt.get("participant_sid"),
            "Status": receipt.get("status"),
            "ErrorCode": receipt.get("error_code"),
            "DateCreated": webhook_date(receipt.get("date_created")),
            "DateUpdated": webhook_date(receipt.get("date_updated") or receipt.get("date_created")),
        })
    if "state_to" in data:
        values["StateFrom"] = data.get("state_from")
        values["StateTo"] = data.get("state_to")
        values["Reason"] = data.get("reason")
    for key, name in (("message_body", "MessageBody"), ("media", "Media")):
        if key in data and data[key] is not None:  # onConversationAdd during autocreation
            values[name] = data[key] if name != "Media" else _media(data[key])
    return values


def event_params(event_type: str, data: Mapping[str, Any], *, account_sid: str, source: str,
                 client_identity: str | None, event_date: int | float,
                 messaging_service_sid: str | None = None) -> Params:
    """The form parameters of one webhook request for an event (without `RetryCount`)."""
    values = _row_values(data)
    if messaging_service_sid is not None and values.get("MessagingServiceSid") is None:
        values["MessagingServiceSid"] = messaging_service_sid
    values["DateRemoved"] = webhook_date(event_date)
    if values.get("StateUpdated") is None or "state_to" in data:
        values["StateUpdated"] = webhook_date(event_date)
    params: Params = [("AccountSid", account_sid), ("EventType", event_type), ("Source", wire_source(source))]
    if client_identity is not None:
        params.append(("ClientIdentity", client_identity))
    names = EVENT_PARAMS.get(event_type, ())
    if "ChatServiceSid" not in names and values.get("ChatServiceSid") is not None:
        params.append(("ChatServiceSid", str(values["ChatServiceSid"])))
    for name in names:
        value = values.get(name)
        if value is None:
            continue
        if isinstance(value, list | tuple):  # e.g. the addresses of a Group MMS autocreation
            params.extend((name, str(v)) for v in value)
        else:
            params.append((name, str(value)))
    return params


def render_params(rendering: Sequence[Any]) -> Params:
    """The parameters of a delivery recorded without a copy of them: `rendering` is
    `[event_type, account_sid, event_date, messaging_service_sid, extra, payload]`, where `payload` is the
    outbox event's payload (as `actions.common.emit` wrote it: `source`, `client_identity`, `data`; a dict, or
    its JSON text) and `extra` the pairs added per target (a conversation webhook's `WebhookSid`,
    `WebhookType`). The webhook sender process renders them there, off the server's core."""
    event_type, account_sid, event_date, messaging_service_sid, extra, payload = rendering
    if isinstance(payload, str | bytes):
        payload = orjson.loads(payload)
    params = event_params(event_type, payload["data"], account_sid=account_sid, source=payload["source"],
                          client_identity=payload.get("client_identity"), event_date=event_date,
                          messaging_service_sid=messaging_service_sid)
    params.extend((name, value) for name, value in extra)
    return params
