"""The Twilio-compatible URL map. Every resource under `/v1/…` that belongs to a Conversation Service
is also served under `/v1/Services/{ChatServiceSid}/…`."""

from __future__ import annotations

from starlette.routing import Route

from hubbub.api import (
    address_configurations,
    bindings,
    configuration,
    conversation_webhooks,
    conversation_with_participants,
    conversations,
    credentials,
    media,
    messages,
    participant_conversations,
    participants,
    roles,
    services,
    sms,
    testing,
    user_conversations,
    users,
    webhook_configuration,
    webhook_deliveries,
)
from hubbub.api.routing import resource, service_scoped
from hubbub.realtime import gateway

__all__ = ["resource", "routes", "service_scoped"]

CONV = "/Conversations/{ConversationSid}"
MSG = f"{CONV}/Messages/{{MessageSid}}"

routes: list[Route] = [
    resource("/v1/Configuration", GET=configuration.fetch, POST=configuration.update),
    *service_scoped("/Conversations", GET=conversations.list_, POST=conversations.create),
    *service_scoped("/Conversations/{Sid}", GET=conversations.fetch, POST=conversations.update,
                    DELETE=conversations.remove),
    *service_scoped(f"{CONV}/Participants", GET=participants.list_, POST=participants.create),
    *service_scoped(f"{CONV}/Participants/{{Sid}}", GET=participants.fetch, POST=participants.update,
                    DELETE=participants.remove),
    *service_scoped(f"{CONV}/Messages", GET=messages.list_, POST=messages.create),
    *service_scoped(f"{CONV}/Messages/{{Sid}}", GET=messages.fetch, POST=messages.update,
                    DELETE=messages.remove),
    *service_scoped(f"{MSG}/Receipts", GET=messages.list_receipts),
    *service_scoped(f"{MSG}/Receipts/{{Sid}}", GET=messages.fetch_receipt),
    *services.routes,
    *webhook_configuration.routes,
    *credentials.routes,
    *bindings.routes,
    *roles.routes,
    *users.routes,
    *user_conversations.routes,
    *participant_conversations.routes,
    *conversation_with_participants.routes,
    *address_configurations.routes,
    *conversation_webhooks.routes,
    *sms.routes,
    *webhook_deliveries.routes,
    *testing.routes,
    *gateway.routes,
    *media.routes,
]
