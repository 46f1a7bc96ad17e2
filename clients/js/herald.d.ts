// Types of herald.js (hand-written; the protocol is docs/asyncapi.yaml).

export type BuiltinType = "LIKE" | "COMMENT" | "FOLLOW" | "MENTION" | "SYSTEM";

/** A notification as the gateway sends it (NOTIFICATION frame). */
export interface Notification {
  id: string;
  tenantId: string;
  userId: string;
  /** A built-in type (LIKE, COMMENT, FOLLOW, MENTION, SYSTEM) or one the tenant defined. */
  type: BuiltinType | (string & {});
  actorId: string;
  eventId: string;
  postId: string | null;
  commentId: string | null;
  message: string;
  priority: "transactional" | "promotional";
  createdAt: string;
  expiresAt: string;
  /** Distinct actors a digest stands for (1 otherwise). */
  count?: number;
  /** A digest's latest actors, newest first (empty: just actorId). */
  actors?: string[];
  /** Bumped by every update of a digest; the higher version wins (isNewer). */
  version?: number;
}

/** A notification as the read API shows it. */
export interface StoredNotification extends Notification {
  status: "pending" | "acked" | "expired";
  readAt: string | null;
  /** Seen (the badge counts the unseen); read implies seen. */
  seenAt?: string | null;
  /** Archived: out of the default history (archived implies read). */
  archivedAt?: string | null;
}

export type Mark = "seen" | "read" | "archived" | "unarchived";

/** The user's inbox after a mark (INBOX_STATE without its type; the read API's `state`). */
export interface InboxState {
  seq: number;
  mark: Mark;
  /** The ids marked; null for a mark of all. */
  notificationIds: string[] | null;
  all: boolean;
  /** When the mark began (a mark of all changed only what was created by then). */
  at: string;
  /** The badge. */
  unseen: number;
  unread: number;
}

export interface MarkOk {
  type: "MARK_OK";
  mark: Mark;
  all: boolean;
  notificationIds: string[] | null;
  unknown: string[];
  changed: number;
  seq: number;
}

export interface InboxCounts {
  userId: string;
  tenantId: string;
  unseen: number;
  unread: number;
  seq: number;
}

export type ClientFrame =
  | { type: "AUTH"; token: string }
  | { type: "AUTH"; userId: string; tenantId?: string }
  | { type: "ACK"; notificationIds: string[] }
  | { type: "ACK"; notificationId: string }
  | { type: "MARK"; mark: Mark; notificationIds: string[] }
  | { type: "MARK_ALL"; mark: Mark };

export type ServerFrame =
  | { type: "AUTH_OK"; userId: string; tenantId: string; pending: number }
  | { type: "NOTIFICATION"; notification: Notification }
  | { type: "NOTIFICATION_UPDATE"; notification: Notification }
  | { type: "ACK_OK"; notificationIds: string[]; unknown: string[] }
  | MarkOk
  | ({ type: "INBOX_STATE" } & InboxState)
  | { type: "ERROR"; code: string; message: string; notificationIds?: string[]; mark?: Mark };

export declare const CLIENT_FRAMES: readonly ["AUTH", "ACK", "MARK", "MARK_ALL"];
export declare const SERVER_FRAMES: readonly ["AUTH_OK", "NOTIFICATION", "NOTIFICATION_UPDATE", "ACK_OK", "MARK_OK", "INBOX_STATE", "ERROR"];
export declare const MARKS: readonly ["seen", "read", "archived", "unarchived"];
/** The most ids one MARK frame takes; mark() sends more in several. */
export declare const MAX_MARK_IDS: 500;

/** Accepts only a state whose seq is above the last accepted (never older counts after newer). */
export declare class InboxSeq {
  seq: number;
  state: InboxState | null;
  accept(state: { seq: number }): boolean;
}
/** A notification's version (1 when it has none). */
export declare function versionOf(note: { version?: number } | null | undefined): number;
/** Whether `incoming` replaces `current` (the same id): only a higher version does. */
export declare function isNewer(current: { version?: number }, incoming: { version?: number }): boolean;
export declare const CLOSE: Readonly<{
  NORMAL: 1000; GOING_AWAY: 1001; ABNORMAL: 1006; NOT_UTF8: 1007; POLICY: 1008; TOO_BIG: 1009;
  INTERNAL: 1011; OVERLOADED: 1013; AUTH_REQUIRED: 4001; AUTH_TIMEOUT: 4002;
  AUTH_FAILED: 4003; TOO_MANY: 4029;
}>;

export type CloseAction = "reconnect" | "refresh" | "stop";
export declare function afterClose(code: number | null | undefined, canRefresh: boolean): CloseAction;

export interface BackoffOptions {
  /** First ceiling in ms (default 200). */
  base?: number;
  /** Largest delay in ms (default 10,000). */
  cap?: number;
  random?: () => number;
}

export declare class Backoff {
  constructor(options?: BackoffOptions);
  base: number;
  cap: number;
  attempts: number;
  next(): number;
  reset(): void;
}

export type Verdict = "deliver" | "update" | "reack" | "skip";

export declare class Ledger {
  constructor(remember?: number);
  remember: number;
  seen: Map<string, boolean>;
  versions: Map<string, number>;
  owed: Set<string>;
  unsent: Set<string>;
  duplicates: number;
  onNotification(id: string, version?: number): Verdict;
  ack(ids: Iterable<string>): void;
  takeUnsent(limit: number): string[];
  onAckOk(acked?: string[], unknown?: string[]): void;
  onTryAgain(ids?: string[]): void;
  onReconnect(): void;
}

export declare const frames: Readonly<{
  authToken(token: string): { type: "AUTH"; token: string };
  authTrusted(userId: string, tenantId?: string): { type: "AUTH"; userId: string; tenantId?: string };
  ack(notificationIds: string[]): { type: "ACK"; notificationIds: string[] };
  mark(mark: Mark, notificationIds: string[]): { type: "MARK"; mark: Mark; notificationIds: string[] };
  markAll(mark: Mark): { type: "MARK_ALL"; mark: Mark };
}>;

export declare class HeraldError extends Error {
  constructor(code: number | null, message: string);
  code: number | null;
}

/** Anything with the browser WebSocket's constructor (e.g. the `ws` package in Node 20). */
export type WebSocketConstructor = new (url: string) => {
  readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
};

export type UrlSource = string | string[] | ((attempt: number) => string | Promise<string>);

export interface ConnectOptions {
  /** A JWT for AUTH. */
  token?: string;
  /** Called before every connection (and after a 4003) for a fresh JWT. */
  getToken?: () => string | Promise<string>;
  /** Only for a gateway with AUTH_MODE=trusted. */
  userId?: string;
  tenantId?: string;
  /** ACK each notification as it is handed to the app (default false: call ack()). */
  autoAck?: boolean;
  /** ms to gather ACKs into one frame (default 5). */
  ackDelay?: number;
  /** at most this many ids per ACK frame; this many owed are sent at once (default 100). */
  ackBatch?: number;
  backoff?: Backoff | BackoffOptions;
  /** ms for the connection to reach AUTH_OK (default 10,000). */
  openTimeout?: number;
  /** how many notification ids to remember for deduplication (default 10,000). */
  remember?: number;
  /** the WebSocket constructor (default globalThis.WebSocket). */
  WebSocket?: WebSocketConstructor;
}

export type ConnectionState = "idle" | "connecting" | "open" | "reconnecting" | "closed";

export interface ClientEvents {
  notification: Notification;
  update: Notification;
  state: ConnectionState;
  open: { type: "AUTH_OK"; userId: string; tenantId: string; pending: number; url: string };
  ack: string[];
  /** An INBOX_STATE newer (higher seq) than the last emitted. */
  inbox: InboxState;
  error: { code: number | string | null; message: string; fatal: boolean };
  close: { code: number | null; reason: string; action: CloseAction };
}

export interface ClientStats {
  attempts: number;
  connects: number;
  deliveries: number;
  updates: number;
  ackRetries: number;
  acked: number;
  closes: Record<string, number>;
}

export declare class HeraldClient {
  constructor(url: UrlSource, options: ConnectOptions);
  readonly state: ConnectionState;
  readonly url: string | null;
  readonly error: HeraldError | null;
  readonly stats: ClientStats;
  readonly ledger: Ledger;
  readonly backoff: Backoff;
  autoAck: boolean;
  /** The last inbox state emitted (its seq; 0 and null before the first). */
  readonly inbox: InboxSeq;
  on(event: "notification", handler: (value: Notification, info: { replayed: boolean }) => void): () => void;
  on(event: "update", handler: (value: Notification, info: { replayed: boolean }) => void): () => void;
  on<K extends keyof ClientEvents>(event: K, handler: (value: ClientEvents[K]) => void): () => void;
  off<K extends keyof ClientEvents>(event: K, handler: (value: ClientEvents[K]) => void): void;
  start(): this;
  waitOpen(timeoutMs?: number): Promise<this>;
  ack(...ids: (string | string[])[]): void;
  /** MARK (more than MAX_MARK_IDS ids: several frames, one merged answer); rejects if not open or not recorded. */
  mark(mark: Mark, ids: string | string[]): Promise<MarkOk>;
  /** MARK_ALL: everything that exists when the gateway begins. */
  markAll(mark: Mark): Promise<MarkOk>;
  reconnect(): void;
  close(): Promise<void>;
}

export declare function connect(url: UrlSource, options: ConnectOptions): HeraldClient;

export declare class HeraldHttpError extends Error {
  constructor(status: number, body: unknown);
  status: number;
  body: { error?: string; message?: string; details?: unknown[] } | null;
}

export interface ReadApiOptions {
  token?: string;
  getToken?: () => string | Promise<string>;
  /** A READ_API_KEYS key (a backend reading for any user). */
  apiKey?: string;
  tenantId?: string;
  /** The user the settings' methods use when called without one. */
  userId?: string;
  fetch?: typeof fetch;
}

/** Local wall times "HH:MM"; an end before the start is the next day. */
export interface QuietHours {
  start: string;
  end: string;
}

export interface TypePreference {
  /** Whether the user gets this type: a transactional type always; else the choice; else the default. */
  enabled: boolean;
  transactional: boolean;
  /** The tenant's default for users who did not choose. */
  default: boolean;
}

export interface Preferences {
  userId: string;
  tenantId: string;
  types: Record<string, TypePreference>;
  quietHours: QuietHours | null;
}

export interface PreferencesIn {
  /** Type → on/off; a type left out follows its default (default: {}). */
  types?: Record<string, boolean>;
  /** null or left out: no quiet hours. */
  quietHours?: QuietHours | null;
}

export interface Profile {
  userId: string;
  tenantId: string;
  locale: string | null;
  timeZone: string | null;
}

export interface ProfileIn {
  /** "en", "de-AT", "pt-BR"…; null or left out clears it. */
  locale?: string | null;
  /** An IANA time zone ("Europe/Vienna"); null or left out clears it. */
  timeZone?: string | null;
}

export interface Page {
  notifications: StoredNotification[];
  nextCursor: string | null;
  hasMore: boolean;
}

export declare class ReadApi {
  constructor(baseUrl?: string, options?: ReadApiOptions);
  page(userId: string, options?: { limit?: number; cursor?: string | null }): Promise<Page>;
  pages(userId: string, options?: { limit?: number; cursor?: string | null }): AsyncGenerator<Page>;
  history(userId: string, options?: { limit?: number }): AsyncGenerator<StoredNotification>;
  unreadCount(userId: string): Promise<number>;
  markRead(notificationId: string, options?: { userId?: string }): Promise<void>;
  markAllRead(userId: string): Promise<number>;
  counts(userId?: string): Promise<InboxCounts>;
  mark(userId: string, mark: Mark, notificationIds: string[]): Promise<{ marked: string[]; unknown: string[]; state: InboxState }>;
  mark(mark: Mark, notificationIds: string[]): Promise<{ marked: string[]; unknown: string[]; state: InboxState }>;
  markAll(userId: string, mark: Mark): Promise<{ changed: number; state: InboxState }>;
  markAll(mark: Mark): Promise<{ changed: number; state: InboxState }>;
  archived(userId: string, options?: { limit?: number; cursor?: string | null }): Promise<Page>;
  /** The user: the first argument, or options.userId when left out. */
  userId?: string;
  getPreferences(userId?: string): Promise<Preferences>;
  /** Replaces both parts, as PUT does. */
  setPreferences(userId: string, choices: PreferencesIn): Promise<Preferences>;
  setPreferences(choices: PreferencesIn): Promise<Preferences>;
  getProfile(userId?: string): Promise<Profile>;
  /** Replaces both fields, as PUT does. */
  setProfile(userId: string, profile: ProfileIn): Promise<Profile>;
  setProfile(profile: ProfileIn): Promise<Profile>;
}
