"""Permission names and the default roles every Conversation Service starts with."""

from __future__ import annotations

SERVICE_PERMISSIONS = frozenset({
    "addParticipant", "createConversation", "deleteAnyMessage", "deleteConversation", "editAnyMessage",
    "editAnyMessageAttributes", "editAnyUserInfo", "editConversationAttributes", "editConversationName",
    "editOwnMessage", "editOwnMessageAttributes", "editOwnUserInfo", "joinConversation", "removeParticipant",
})

CONVERSATION_PERMISSIONS = frozenset({
    "addParticipant", "deleteAnyMessage", "deleteOwnMessage", "deleteConversation", "editAnyMessage",
    "editAnyMessageAttributes", "editAnyUserInfo", "editConversationAttributes", "editConversationName",
    "editOwnMessage", "editOwnMessageAttributes", "editOwnUserInfo", "leaveConversation", "removeParticipant",
    "sendMediaMessage", "sendMessage",
})

# Programmable Chat's defaults mapped 1:1 onto the Conversations permission names.
DEFAULT_ROLES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("service admin", "service", (
        "createConversation", "joinConversation", "deleteConversation", "editConversationAttributes",
        "editConversationName", "addParticipant", "removeParticipant", "editAnyMessage", "deleteAnyMessage",
        "editAnyMessageAttributes", "editAnyUserInfo", "editOwnUserInfo",
    )),
    ("service user", "service", ("createConversation", "joinConversation", "editOwnUserInfo")),
    ("channel admin", "conversation", (
        "sendMessage", "sendMediaMessage", "leaveConversation", "editOwnMessage", "editOwnMessageAttributes",
        "deleteOwnMessage", "editAnyMessage", "editAnyMessageAttributes", "deleteAnyMessage",
        "addParticipant", "removeParticipant", "editConversationAttributes", "editConversationName",
        "editOwnUserInfo",
    )),
    ("channel user", "conversation", (
        "sendMessage", "sendMediaMessage", "leaveConversation", "editOwnMessage", "editOwnMessageAttributes",
        "deleteOwnMessage", "editOwnUserInfo",
    )),
)
