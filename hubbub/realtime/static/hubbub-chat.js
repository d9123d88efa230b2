// Hubbub chat SDK: an ES module for browsers (<script type="module">) and Node (global WebSocket),
// speaking the real-time client protocol v1 (docs/client-protocol.md). No build step, no dependencies.
//
//   import { Client } from "/sdk/hubbub-chat.js";
//   const client = await Client.create(token);
//   client.on("messageAdded", (message, frame) => console.log(message.body));
//   await client.sendMessage("CH…", "hello");
//
// It reconnects by itself (backoff with jitter) and resumes from the last stream position it saw, so
// events are neither missed nor repeated. Requests made while it reconnects or catches up are queued and
// sent once it is synced (they fail after requestTimeout, or at once if access is denied). Typing signals are throttled to one per 5 s per conversation
// and read-horizon reports are batched (default every 10 s), as Twilio's SDKs do.

export const PROTOCOL_VERSION = 1;
const TERMINAL_CLOSE = 4401;

export class ChatError extends Error {
  constructor(code, status, message) {
    super(`${code} (${status}): ${message}`);
    this.name = "ChatError";
    this.code = code;
    this.status = status;
  }
}

function defaultUrl() {
  if (typeof location === "undefined") throw new Error("pass options.url outside a browser");
  return `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}/v1/Realtime`;
}

function realtimeUrl(url) {
  let u = url.replace(/\/+$/, "");
  if (u.startsWith("http")) u = "ws" + u.slice(4);
  return u.endsWith("/v1/Realtime") ? u : u + "/v1/Realtime";
}

export class Client {
  /** Connect and resolve once the first connection is synced (rejects with ChatError if refused). */
  static async create(token, options = {}) {
    const client = new Client(token, options);
    await client.connect();
    return client;
  }

  constructor(token, options = {}) {
    this.token = token;
    this.url = options.url ? realtimeUrl(options.url) : defaultUrl();
    this.WebSocket = options.WebSocket || globalThis.WebSocket;
    this.minBackoff = options.minBackoff ?? 100;
    this.maxBackoff = options.maxBackoff ?? 5000;
    this.typingInterval = options.typingInterval ?? 5000;
    this.readReportInterval = options.readReportInterval ?? 10000;
    this.requestTimeout = options.requestTimeout ?? 30000;
    this.position = options.resumeFrom ?? null;
    this.identity = null;
    this.user = null;
    this.connectionState = "disconnected";
    this.connections = 0;
    this._handlers = new Map();
    this._pending = new Map();
    this._nextId = 1;
    this._ws = null;
    this._closing = false;
    this._backoff = this.minBackoff;
    this._synced = null;
    this._queued = []; // requests made while (re)connecting: sent once the connection is synced
    this._typingSent = new Map();
    this._reads = new Map();
    this._readTimer = null;
    this._expiryTimers = [];
  }

  // -- events ----------------------------------------------------------------------------------------
  on(event, handler) {
    if (!this._handlers.has(event)) this._handlers.set(event, new Set());
    this._handlers.get(event).add(handler);
    return this;
  }

  off(event, handler) {
    this._handlers.get(event)?.delete(handler);
    return this;
  }

  _emit(event, ...args) {
    for (const handler of [...(this._handlers.get(event) || []), ...(this._handlers.get("*") || [])]) {
      try {
        handler(...args);
      } catch (err) {
        console.error(`hubbub-chat: ${event} handler failed`, err);
      }
    }
  }

  _setState(state) {
    if (state !== this.connectionState) {
      this.connectionState = state;
      this._emit("connectionStateChanged", state);
    }
  }

  // -- connection ------------------------------------------------------------------------------------
  connect() {
    this._closing = false;
    return new Promise((resolve, reject) => {
      this._firstConnect = { resolve, reject };
      this._open();
    });
  }

  _open() {
    this._setState("connecting");
    let ws;
    try {
      ws = new this.WebSocket(this.url);
    } catch (err) {
      this._scheduleReconnect();
      return;
    }
    this._ws = ws;
    this._synced = null;
    let refusal = null;
    ws.onopen = () => {
      ws.send(JSON.stringify({ type: "connect", v: PROTOCOL_VERSION, token: this.token, resume_from: this.position }));
    };
    ws.onmessage = (msg) => {
      let frame;
      try {
        frame = JSON.parse(msg.data);
      } catch {
        return;
      }
      if (frame.type === "error" && frame.id == null) refusal = new ChatError(frame.code, frame.status, frame.message);
      this._frame(frame);
    };
    ws.onclose = (event) => {
      if (this._ws === ws) this._ws = null;
      for (const { reject } of this._pending.values()) reject(new Error("connection dropped before the reply"));
      this._pending.clear();
      const terminal = event.code === TERMINAL_CLOSE || (refusal && !this._everSynced);
      if (this._closing) {
        this._setState("disconnected");
      } else if (terminal) {
        this._setState("denied");
        if (refusal && refusal.code === 20104) this._emit("tokenExpired");
        this._emit("connectionError", { terminal: true, message: refusal?.message, errorCode: refusal?.code });
        this._rejectQueued(refusal || new Error("connection refused"));
        if (this._firstConnect) {
          this._firstConnect.reject(refusal || new Error("connection refused"));
          this._firstConnect = null;
        }
      } else {
        this._emit("connectionError", { terminal: false, message: "connection lost" });
        this._scheduleReconnect();
      }
    };
    ws.onerror = () => {};
  }

  _scheduleReconnect() {
    this._setState("connecting");
    const delay = this._backoff * (1 + Math.random() * 0.2);
    this._backoff = Math.min(this._backoff * 2, this.maxBackoff);
    setTimeout(() => {
      if (!this._closing) this._open();
    }, delay);
  }

  /** Close the connection for good. */
  shutdown() {
    this._closing = true;
    this._flushReads();
    for (const t of this._expiryTimers) clearTimeout(t);
    if (this._ws) this._ws.close(1000);
    this._rejectQueued(new Error("client shut down"));
    this._setState("disconnected");
  }

  /** Drop the connection as a network failure would (for tests); the client reconnects and resumes. */
  dropConnection() {
    if (this._ws) this._ws.close(4000);
  }

  _frame(frame) {
    switch (frame.type) {
      case "event":
        if (this.position !== null && frame.pos <= this.position) return;
        this.position = frame.pos;
        this._event(frame);
        break;
      case "typing":
        this._emit(frame.event, { conversationSid: frame.conversation_sid, identity: frame.identity }, frame);
        break;
      case "connected":
        this.identity = frame.identity;
        this.user = frame.user;
        this.connections += 1;
        this._scheduleExpiry(frame.token_expires);
        break;
      case "synced":
        this.position = Math.max(this.position ?? 0, frame.pos);
        this._backoff = this.minBackoff;
        this._everSynced = true;
        // requests queued while away go out first, before anything a state handler sends
        this._flushQueued(true);
        this._setState("connected");
        if (this._firstConnect) {
          this._firstConnect.resolve(this);
          this._firstConnect = null;
        }
        break;
      case "reply":
      case "token_updated":
      case "pong": {
        const pending = this._pending.get(String(frame.id));
        if (pending) {
          this._pending.delete(String(frame.id));
          pending.resolve(frame.result ?? frame);
        }
        break;
      }
      case "error": {
        const error = new ChatError(frame.code, frame.status, frame.message);
        const pending = frame.id != null ? this._pending.get(String(frame.id)) : null;
        if (pending) {
          this._pending.delete(String(frame.id));
          pending.reject(error);
        } else {
          this._emit("error", error);
        }
        break;
      }
      default:
        break; // newer servers may add frame types
    }
  }

  _event(frame) {
    const data = frame.data || {};
    const thing = data.message || data.participant || data.conversation || data.user || data.receipt;
    this._emit(frame.event, thing, frame);
    if (frame.event === "participantJoined" && thing?.identity === this.identity) {
      this._emit("conversationJoined", { sid: frame.conversation_sid }, frame);
    } else if (frame.event === "participantLeft" && thing?.identity === this.identity) {
      this._emit("conversationLeft", { sid: frame.conversation_sid }, frame);
    }
  }

  _scheduleExpiry(expires) {
    for (const t of this._expiryTimers) clearTimeout(t);
    const left = expires * 1000 - Date.now();
    this._expiryTimers = [
      setTimeout(() => this._emit("tokenAboutToExpire"), Math.max(0, left - 180000)),
    ];
  }

  // -- requests --------------------------------------------------------------------------------------
  _live() {
    const ws = this._ws;
    return ws && ws.readyState === 1 && this.connectionState === "connected" ? ws : null;
  }

  /** Send a request frame; while (re)connecting or catching up, queue it until the server's "synced". */
  _send(frame) {
    if (this._closing) return Promise.reject(new Error("client shut down"));
    if (this.connectionState === "denied") return Promise.reject(new Error("not connected (access denied)"));
    return new Promise((resolve, reject) => {
      const entry = { frame, resolve, reject, timer: null };
      entry.timer = setTimeout(() => {
        this._queued = this._queued.filter((e) => e !== entry);
        if (entry.id !== undefined) this._pending.delete(entry.id);
        reject(new Error("request timed out"));
      }, this.requestTimeout);
      entry.resolve = (v) => { clearTimeout(entry.timer); resolve(v); };
      entry.reject = (e) => { clearTimeout(entry.timer); reject(e); };
      const ws = this._live();
      if (ws) this._transmit(ws, entry);
      else this._queued.push(entry);
    });
  }

  _transmit(ws, entry) {
    entry.id = String(this._nextId++);
    this._pending.set(entry.id, entry);
    ws.send(JSON.stringify({ ...entry.frame, id: entry.id }));
  }

  _flushQueued(synced = false) {
    const ws = this._ws;
    if (!ws || ws.readyState !== 1 || !(synced || this.connectionState === "connected")) return;
    const queued = this._queued;
    this._queued = [];
    for (const entry of queued) this._transmit(ws, entry);
  }

  _rejectQueued(error) {
    const queued = this._queued;
    this._queued = [];
    for (const entry of queued) entry.reject(error);
  }

  /** Any action of the protocol; resolves with its result, rejects with ChatError. */
  request(action, params = {}) {
    const clean = Object.fromEntries(Object.entries(params).filter(([, v]) => v !== undefined && v !== null));
    return this._send({ type: "request", action, params: clean });
  }

  async updateToken(token) {
    const reply = await this._send({ type: "update_token", token });
    this.token = token;
    this._scheduleExpiry(reply.token_expires);
  }

  /** Tell the others this user is typing; at most one signal per typingInterval per conversation. */
  typing(conversation) {
    const now = Date.now();
    if (now - (this._typingSent.get(conversation) || 0) < this.typingInterval) return;
    const ws = this._live();
    if (!ws) return; // typing is ephemeral: not queued across a reconnect
    this._typingSent.set(conversation, now);
    ws.send(JSON.stringify({ type: "typing", conversation }));
  }

  listConversations(options = {}) {
    return this.request("list_conversations", { page_size: options.pageSize, page_token: options.pageToken });
  }
  getMessages(conversation, options = {}) {
    return this.request("get_messages", { conversation, before: options.before, page_size: options.pageSize });
  }
  getParticipants(conversation) {
    return this.request("get_participants", { conversation });
  }
  async sendMessage(conversation, body, options = {}) {
    this._typingSent.delete(conversation);
    const result = await this.request("send_message", {
      conversation, body, attributes: options.attributes, media_sids: options.mediaSids,
    });
    return result.message;
  }
  updateMessage(conversation, message, changes) {
    return this.request("update_message", { conversation, message, ...changes });
  }
  deleteMessage(conversation, message) {
    return this.request("delete_message", { conversation, message });
  }
  async createConversation(options = {}) {
    const result = await this.request("create_conversation", {
      friendly_name: options.friendlyName, unique_name: options.uniqueName, attributes: options.attributes,
    });
    return result.conversation;
  }
  updateConversation(conversation, changes) {
    return this.request("update_conversation", {
      conversation, friendly_name: changes.friendlyName, attributes: changes.attributes,
    });
  }
  join(conversation) {
    return this.request("join", { conversation });
  }
  leave(conversation) {
    return this.request("leave", { conversation });
  }
  addParticipant(conversation, identity, options = {}) {
    return this.request("add_participant", { conversation, identity, attributes: options.attributes });
  }
  removeParticipant(conversation, participant) {
    return this.request("remove_participant", { conversation, participant });
  }
  updateUser(changes, identity) {
    return this.request("update_user", { identity, friendly_name: changes.friendlyName, attributes: changes.attributes });
  }
  /** Register this device's APN / FCM token for push notifications (creates a Binding BS…). */
  registerPushNotifications(bindingType, address, credentialSid) {
    return this.request("register_push", { binding_type: bindingType, address, credential_sid: credentialSid });
  }
  unregisterPushNotifications(bindingType, address) {
    return this.request("unregister_push", { binding_type: bindingType, address });
  }
  /** Set the read horizon now (not batched). */
  setLastReadMessageIndex(conversation, index) {
    return this.request("set_read", index === null ? { conversation, all: true } : { conversation, index });
  }
  /** Move the read horizon forward; reports are batched every readReportInterval ms. */
  advanceLastReadMessageIndex(conversation, index) {
    const current = this._reads.get(conversation);
    if (current === undefined || index > current) this._reads.set(conversation, index);
    if (!this._readTimer) this._readTimer = setTimeout(() => this._flushReads(), this.readReportInterval);
  }
  _flushReads() {
    clearTimeout(this._readTimer);
    this._readTimer = null;
    const reads = [...this._reads];
    this._reads.clear();
    return Promise.all(reads.map(([conversation, index]) =>
      this.request("advance_read", { conversation, index }).catch((err) => this._emit("error", err))));
  }
  /** Send batched read reports now. */
  flushReadHorizon() {
    return this._flushReads();
  }
}
