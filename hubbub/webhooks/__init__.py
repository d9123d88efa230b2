"""Webhooks, as Twilio Conversations sends them, made reliable.

- `signing`: the `X-Twilio-Signature` header (HMAC-SHA1 of URL + sorted parameters, account Auth Token).
- `payloads`: an event → Twilio's form parameters for that event type.
- `targets`: which URLs an event goes to (account, service and conversation-scoped levels, filters).
- `store`: the delivery queue's SQL: fan-out in the writer's transaction (called from `actions.common.emit`),
  claiming, completing, replaying and purging deliveries.
- `dispatcher`: the post-action worker that sends due deliveries and retries them.
- `pre`: pre-action calls, made in the request path before the write.
- `config`: the `HUBBUB_WEBHOOK_*` settings.

See docs/webhooks.md.
"""
