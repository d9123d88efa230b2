// Type declarations for hubbub-chat.js (real-time client protocol v1, docs/client-protocol.md).

export declare const PROTOCOL_VERSION: 1;

export declare class ChatError extends Error {
  code: number;
  status: number;
}

export type ConnectionState = "connecting" | "connected" | "disconnected" | "denied";

export interface Message {
  sid: string; conversation_sid: string; index: number; author: string; body: string | null;
  attributes: string; participant_sid: string | null; media: unknown[] | null;
  date_created: string; date_updated: string | null;
}
export interface Conversation {
  sid: string; chat_service_sid: string; friendly_name: string | null; unique_name: string | null;
  attributes: string; state: "active" | "inactive" | "closed"; created_by: string | null;
  date_created: string; date_updated: string;
}
export interface MyConversation extends Conversation {
  participant_sid: string; notification_level: "default" | "muted"; last_read_message_index: number | null;
  unread_messages_count: number | null; last_message: Message | null; last_activity: string;
}
export interface Participant {
  sid: string; conversation_sid: string; identity: string | null; attributes: string; role_sid: string | null;
  messaging_binding: { type: string; address: string; proxy_address: string | null } | null;
  last_read_message_index: number | null; last_read_timestamp: string | null;
  date_created: string; date_updated: string;
}
export interface User {
  sid: string; identity: string; friendly_name: string | null; attributes: string; role_sid: string | null;
  is_online: boolean | null; is_notifiable: boolean | null; date_created: string; date_updated: string;
}
export interface EventFrame {
  type: "event"; pos: number; event: string; conversation_sid: string | null;
  source: string; client_identity: string | null; data: Record<string, unknown>;
}
export interface Typing { conversationSid: string; identity: string }

export interface ClientOptions {
  url?: string;
  WebSocket?: typeof WebSocket;
  resumeFrom?: number | null;
  minBackoff?: number;
  maxBackoff?: number;
  typingInterval?: number;
  readReportInterval?: number;
  requestTimeout?: number;
}

export interface ClientEvents {
  messageAdded: (message: Message, frame: EventFrame) => void;
  messageUpdated: (message: Message, frame: EventFrame) => void;
  messageRemoved: (message: Message, frame: EventFrame) => void;
  participantJoined: (participant: Participant, frame: EventFrame) => void;
  participantUpdated: (participant: Participant, frame: EventFrame) => void;
  participantLeft: (participant: Participant, frame: EventFrame) => void;
  conversationAdded: (conversation: Conversation, frame: EventFrame) => void;
  conversationUpdated: (conversation: Conversation, frame: EventFrame) => void;
  conversationRemoved: (conversation: Conversation, frame: EventFrame) => void;
  conversationJoined: (conversation: { sid: string }, frame: EventFrame) => void;
  conversationLeft: (conversation: { sid: string }, frame: EventFrame) => void;
  userUpdated: (user: User, frame: EventFrame) => void;
  deliveryUpdated: (receipt: Record<string, unknown>, frame: EventFrame) => void;
  typingStarted: (typing: Typing) => void;
  typingEnded: (typing: Typing) => void;
  connectionStateChanged: (state: ConnectionState) => void;
  connectionError: (error: { terminal: boolean; message?: string; errorCode?: number }) => void;
  tokenAboutToExpire: () => void;
  tokenExpired: () => void;
  error: (error: ChatError) => void;
}

export declare class Client {
  static create(token: string, options?: ClientOptions): Promise<Client>;
  constructor(token: string, options?: ClientOptions);
  readonly identity: string | null;
  readonly user: User | null;
  readonly connectionState: ConnectionState;
  readonly position: number | null;
  readonly connections: number;
  connect(): Promise<Client>;
  shutdown(): void;
  dropConnection(): void;
  on<E extends keyof ClientEvents>(event: E, handler: ClientEvents[E]): this;
  on(event: "*", handler: (...args: unknown[]) => void): this;
  off<E extends keyof ClientEvents>(event: E, handler: ClientEvents[E]): this;
  /** Any action. Made while the client reconnects or catches up, it is queued and sent once synced
   *  (rejected after requestTimeout, or at once when access is denied or the client shut down). */
  request(action: string, params?: Record<string, unknown>): Promise<any>;
  updateToken(token: string): Promise<void>;
  typing(conversation: string): void;
  listConversations(options?: { pageSize?: number; pageToken?: number }):
    Promise<{ conversations: MyConversation[]; next_page_token: number | null }>;
  getMessages(conversation: string, options?: { before?: number; pageSize?: number }):
    Promise<{ messages: Message[]; has_more: boolean }>;
  getParticipants(conversation: string): Promise<{ participants: Participant[] }>;
  sendMessage(conversation: string, body: string | null,
              options?: { attributes?: unknown; mediaSids?: string[] }): Promise<Message>;
  updateMessage(conversation: string, message: string, changes: { body?: string; attributes?: unknown }):
    Promise<{ message: Message }>;
  deleteMessage(conversation: string, message: string): Promise<{}>;
  createConversation(options?: { friendlyName?: string; uniqueName?: string; attributes?: unknown }):
    Promise<Conversation>;
  updateConversation(conversation: string, changes: { friendlyName?: string; attributes?: unknown }):
    Promise<{ conversation: Conversation }>;
  join(conversation: string): Promise<{ participant: Participant }>;
  leave(conversation: string): Promise<{}>;
  addParticipant(conversation: string, identity: string, options?: { attributes?: unknown }):
    Promise<{ participant: Participant }>;
  removeParticipant(conversation: string, participant: string): Promise<{}>;
  updateUser(changes: { friendlyName?: string; attributes?: unknown }, identity?: string): Promise<{ user: User }>;
  registerPushNotifications(bindingType: "apn" | "fcm" | "gcm", address: string, credentialSid: string):
    Promise<{ binding: { sid: string; binding_type: string; endpoint: string; credential_sid: string; identity: string } }>;
  unregisterPushNotifications(bindingType: "apn" | "fcm" | "gcm", address: string): Promise<{}>;
  setLastReadMessageIndex(conversation: string, index: number | null): Promise<{ participant: Participant }>;
  advanceLastReadMessageIndex(conversation: string, index: number): void;
  flushReadHorizon(): Promise<unknown>;
}
