"""Real-time chat: access tokens, the WebSocket gateway and the event hub (docs/client-protocol.md)."""
