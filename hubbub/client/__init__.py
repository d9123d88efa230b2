"""An asyncio Python client for Hubbub's real-time gateway (docs/client-protocol.md).

    client = await RealtimeClient("http://127.0.0.1:8080", token).connect()
    client.on("messageAdded", lambda event: print(event["data"]["message"]["body"]))
    await client.send_message("CH…", "hello")

It reconnects by itself (with backoff) after a dropped connection and resumes from the last stream
position it saw, so no event is missed or repeated. Requests in flight when a connection drops fail with
`ConnectionError` (they are not retried: the server may or may not have applied them); requests made while
it reconnects or catches up wait for the resync (up to `request_timeout`) and are then sent.
"""

from hubbub.client.client import ChatError, RealtimeClient

__all__ = ["ChatError", "RealtimeClient"]
