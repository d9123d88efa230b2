"""Webhooks, as Twilio Conversations sends them, made reliable.

- `signing`: the `X-Twilio-Signature` header (HMAC-SHA1 of URL + sorted parameters, account Auth Token).
- `payloads`: an event → Twilio's form parameters for that event type.
- `targets`: which URLs an event goes to (account, service and conversation-scoped levels, filters).
- `store`: the delivery queue's SQL: fan-out in the writer's transaction (called from `actions.common.emit`),
  claiming, completing, replaying and purging deliveries.
- `dispatcher`: the post-action worker that hands due deliveries to a sender and retries them.
- `sender`: the sender child process that `hubbub serve` starts (the post-action HTTP requests), and the
  server's side of it; `sending`: what every sender shares (one signed request, per-conversation lanes).
- `pre`: pre-action calls, made in the request path before the write.
- `config`: the `HUBBUB_WEBHOOK_*` settings.

See docs/webhooks.md.
"""
