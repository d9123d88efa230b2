// One conversation flow through the official twilio-node helper library against a live Hubbub server.
//
//   HUBBUB_URL=http://127.0.0.1:8080 HUBBUB_ACCOUNT_SID=AC... HUBBUB_AUTH_TOKEN=... node flow.mjs
//
// Creates a conversation, adds a chat and an SMS participant, posts two messages, lists them one per
// page, and fetches a missing conversation. Prints each step; exits non-zero on the first mismatch.
// Run by tests/compat/test_node_sdk.py (`npm ci` first).

import assert from "node:assert/strict";
import { randomInt } from "node:crypto";

import twilio from "twilio";

const baseUrl = process.env.HUBBUB_URL;
const accountSid = process.env.HUBBUB_ACCOUNT_SID;
const authToken = process.env.HUBBUB_AUTH_TOKEN;
if (!baseUrl || !accountSid || !authToken) {
  console.error("set HUBBUB_URL, HUBBUB_ACCOUNT_SID and HUBBUB_AUTH_TOKEN");
  process.exit(2);
}
// With TWILIO_REGION / TWILIO_EDGE set the library rewrites the host; they must not apply here.
delete process.env.TWILIO_REGION;
delete process.env.TWILIO_EDGE;

const client = twilio(accountSid, authToken);
client.conversations.baseUrl = baseUrl; // the only change an application makes
const v1 = client.conversations.v1;

const SID = (prefix) => new RegExp(`^${prefix}[0-9a-f]{32}$`);
// A number pair no other test uses (the pair rule is account-wide): area code 628, random line.
const number = () => `+1628${randomInt(2_000_000, 9_999_999)}`;

function step(text) {
  console.log(`ok - ${text}`);
}

async function main() {
  const conv = await v1.conversations.create({ friendlyName: "node flow", attributes: '{"sdk":"node"}' });
  assert.match(conv.sid, SID("CH"));
  assert.equal(conv.accountSid, accountSid);
  assert.equal(conv.friendlyName, "node flow");
  assert.equal(conv.attributes, '{"sdk":"node"}');
  assert.ok(conv.dateCreated instanceof Date && !Number.isNaN(conv.dateCreated.getTime()), "dateCreated parses");
  assert.equal(conv.url, `${baseUrl}/v1/Conversations/${conv.sid}`);
  step(`created conversation ${conv.sid}`);

  const ctx = v1.conversations(conv.sid);
  const chat = await ctx.participants.create({ identity: "node-alice" });
  assert.match(chat.sid, SID("MB"));
  assert.equal(chat.identity, "node-alice");
  assert.equal(chat.messagingBinding, null);
  step(`added chat participant ${chat.sid}`);

  const address = number();
  const proxy = number();
  const sms = await ctx.participants.create({
    "messagingBinding.address": address,
    "messagingBinding.proxyAddress": proxy,
  });
  assert.match(sms.sid, SID("MB"));
  assert.equal(sms.identity, null);
  assert.deepEqual(sms.messagingBinding, { type: "sms", address, proxy_address: proxy });
  step(`added SMS participant ${sms.sid}`);

  const participants = await ctx.participants.list();
  assert.deepEqual(participants.map((p) => p.sid).sort(), [chat.sid, sms.sid].sort());
  step("listed both participants");

  const first = await ctx.messages.create({ author: "node-alice", body: "Hello from node" });
  const second = await ctx.messages.create({ author: "node-alice", body: "Second message" });
  assert.match(first.sid, SID("IM"));
  assert.deepEqual([first.index, second.index], [0, 1]);
  assert.equal(first.participantSid, chat.sid);
  assert.equal(first.body, "Hello from node");
  step(`posted messages ${first.sid} and ${second.sid}`);

  // One message per page: the library follows meta.next_page_url, which must point back here.
  const page = await ctx.messages.page({ pageSize: 1 });
  assert.deepEqual(page.instances.map((m) => m.sid), [first.sid]);
  assert.ok(page.nextPageUrl && page.nextPageUrl.startsWith(`${baseUrl}/v1/Conversations/${conv.sid}/Messages?`),
    `next_page_url points at the server: ${page.nextPageUrl}`);
  const next = await page.nextPage();
  assert.ok(next, "a second page");
  assert.deepEqual(next.instances.map((m) => m.sid), [second.sid]);
  const listed = await ctx.messages.list({ pageSize: 1 });
  assert.deepEqual(listed.map((m) => [m.index, m.body]), [[0, "Hello from node"], [1, "Second message"]]);
  const newestFirst = await ctx.messages.list({ pageSize: 1, order: "desc" });
  assert.deepEqual(newestFirst.map((m) => m.index), [1, 0]);
  step("listed the messages one per page, both orders");

  const missing = "CH" + "0".repeat(32);
  try {
    await v1.conversations(missing).fetch();
    assert.fail("fetching a missing conversation succeeded");
  } catch (err) {
    assert.equal(err.constructor.name, "RestException", `expected RestException, got ${err.constructor.name}: ${err}`);
    assert.equal(err.status, 404);
    assert.equal(err.code, 20404);
    assert.equal(err.moreInfo, "https://www.twilio.com/docs/errors/20404");
  }
  step("fetching a missing conversation raised RestException 404 / 20404");

  assert.equal(await ctx.remove(), true);
  step("removed the conversation");
  console.log("node flow: all steps passed");
}

main().catch((err) => {
  console.error(`not ok - ${err && err.stack ? err.stack : err}`);
  process.exit(1);
});
