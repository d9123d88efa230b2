// One flow through the JavaScript SDK (hubbub/realtime/static/hubbub-chat.js) against a live server, run
// by tests/realtime/test_js_sdk.py with `node --experimental-websocket` (Node 20's global WebSocket).
import { Client, ChatError } from "../../hubbub/realtime/static/hubbub-chat.js";

const { HUBBUB_URL: url, HUBBUB_ACCOUNT_SID: account, HUBBUB_AUTH_TOKEN: authToken, TOKEN_A, TOKEN_B } = process.env;

function check(condition, what) {
  if (!condition) throw new Error(`check failed: ${what}`);
}

function waitFor(client, event, predicate = () => true, timeout = 10000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${event}`)), timeout);
    const handler = (thing, frame) => {
      if (predicate(thing, frame)) {
        clearTimeout(timer);
        client.off(event, handler);
        resolve(thing);
      }
    };
    client.on(event, handler);
  });
}

async function restMessage(conversation, body) {
  const response = await fetch(`${url}/v1/Conversations/${conversation}/Messages`, {
    method: "POST",
    headers: { Authorization: "Basic " + Buffer.from(`${account}:${authToken}`).toString("base64"),
               "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ Author: "system", Body: body }),
  });
  check(response.status === 201, `REST message created (${response.status})`);
}

const a = await Client.create(TOKEN_A, { url });
const b = await Client.create(TOKEN_B, { url, minBackoff: 300, readReportInterval: 50 });
const states = [];
b.on("connectionStateChanged", (s) => states.push(s));

const conversation = await a.createConversation({ friendlyName: "js flow" });
const joined = waitFor(b, "conversationJoined", (c) => c.sid === conversation.sid);
await a.addParticipant(conversation.sid, b.identity);
await joined;
console.log("step: joined");

let got = waitFor(b, "messageAdded", (m) => m.body === "hello from js");
await a.sendMessage(conversation.sid, "hello from js", { attributes: { via: "js" } });
const message = await got;
check(message.author === a.identity && message.attributes === '{"via":"js"}', "message fields");
console.log("step: message");

const started = [];
a.on("typingStarted", (t) => started.push(t));
const typingStarted = waitFor(a, "typingStarted", (t) => t.identity === b.identity);
b.typing(conversation.sid);
b.typing(conversation.sid); // throttled: not sent again within 5 s
await typingStarted;
const typingEnded = waitFor(a, "typingEnded", (t) => t.identity === b.identity);
const reply = await b.sendMessage(conversation.sid, "typed");
await typingEnded;
check(started.length === 1, "one typingStarted per burst");
console.log("step: typing");

const horizon = waitFor(a, "participantUpdated", (p) => p.identity === b.identity && p.last_read_message_index === reply.index);
b.advanceLastReadMessageIndex(conversation.sid, message.index);
b.advanceLastReadMessageIndex(conversation.sid, reply.index); // batched: one report with the highest
await horizon;
const listed = await b.listConversations();
const mine = listed.conversations.find((c) => c.sid === conversation.sid);
check(mine && mine.unread_messages_count === 0 && mine.last_message.body === "typed", "list with unread count");
console.log("step: read horizon");

got = waitFor(b, "messageAdded", (m) => m.body === "from REST");
await restMessage(conversation.sid, "from REST");
await got;
console.log("step: REST message live");

const received = [];
b.on("messageAdded", (m) => received.push(m.body));
b.dropConnection();
// A request made while the client is away (or catching up) waits for the resync instead of failing.
const sentAway = b.sendMessage(conversation.sid, "sent while away");
const awayArrived = waitFor(b, "messageAdded", (m) => m.body === "sent while away", 15000);
for (let i = 0; i < 5; i++) await restMessage(conversation.sid, `missed ${i}`);
await waitFor(b, "messageAdded", (m) => m.body === "missed 4", 15000).catch(() => null);
if (!received.includes("missed 4")) await new Promise((r) => setTimeout(r, 2000));
const away = await sentAway;
check(away.body === "sent while away" && away.author === b.identity, "request queued during resume was sent");
await awayArrived;
const missed = received.filter((body) => body.startsWith("missed"));
check(JSON.stringify(missed) === JSON.stringify(["missed 0", "missed 1", "missed 2", "missed 3", "missed 4"]),
      `resumed in order: ${JSON.stringify(received)}`);
check(received.length === 6 && received.includes("sent while away"), `each once: ${JSON.stringify(received)}`);
check(b.connections === 2 && states.includes("connecting"), "reconnected");
// Missed events are replayed before the server's "synced" frame; requests wait for the live state.
if (b.connectionState !== "connected") await waitFor(b, "connectionStateChanged", (s) => s === "connected");
console.log("step: resume");

try {
  await b.updateConversation(conversation.sid, { friendlyName: "mine now" });
  check(false, "a channel user cannot rename");
} catch (err) {
  check(err instanceof ChatError && err.code === 50107 && err.status === 403, `denied: ${err}`);
}
console.log("step: denied");

a.shutdown();
b.shutdown();
console.log("js flow: all steps passed");
process.exit(0);
