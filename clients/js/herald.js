/**
 * Herald's client SDK (browsers and Node 20+, no dependencies): the WebSocket client and the
 * read API.
 *
 *   import { connect } from "/sdk/herald.js";
 *   const herald = connect("ws://127.0.0.1:8001/ws", { token, autoAck: true });
 *   herald.on("notification", (n) => console.log(n.message));
 *
 * The client keeps one connection up until close(): it sends AUTH first, reconnects after a
 * drop with exponential backoff and full jitter (capped), asks getToken() for a new token when
 * the gateway refuses one (4003), and stops for good when a close says the client itself is
 * wrong (1007, 1008, 1009, 4001): see afterClose(). The gateway replays every unacknowledged
 * notification after a reconnect; the Ledger makes the app see each one once (bounded memory)
 * and makes every ACK reach the gateway: batched (ackDelay ms or ackBatch ids), resent after
 * ERROR TRY_AGAIN and on the next connection until ACK_OK confirms it. Same semantics as the
 * Python client (clients/python/herald_client). The protocol: docs/asyncapi.yaml.
 *
 * Inbox states (seen / read / archived): mark(mark, ids) and markAll(mark) send MARK / MARK_ALL
 * and resolve with the gateway's MARK_OK; every connection of the user (every tab) then gets
 * INBOX_STATE, emitted as "inbox" {seq, mark, notificationIds, all, at, unseen, unread} — only
 * a state whose seq is above the last emitted one, so a tab never shows older counts after
 * newer ones (InboxSeq). The badge is `unseen`.
 */

/** Frame types, both ways (docs/asyncapi.yaml). */
export const CLIENT_FRAMES = Object.freeze(["AUTH", "ACK", "MARK", "MARK_ALL"]);
export const SERVER_FRAMES = Object.freeze(["AUTH_OK", "NOTIFICATION", "NOTIFICATION_UPDATE", "ACK_OK", "MARK_OK", "INBOX_STATE", "ERROR"]);

/** The marks (docs/asyncapi.yaml, MarkName): read implies seen, archived implies read. */
export const MARKS = Object.freeze(["seen", "read", "archived", "unarchived"]);

/** The most ids one MARK frame takes (the gateway's bound; mark() sends more in several). */
export const MAX_MARK_IDS = 500;

/**
 * The user's inbox counts as last shown (pure): accept(state) is true only for a state whose
 * seq is above the last accepted one. States of one user are numbered by the server after
 * each mark (counts read after it), so a higher seq has newer counts; two states may arrive
 * out of order (two gateways, the read API), and an older one is dropped.
 */
export class InboxSeq {
  constructor() {
    this.seq = 0;
    /** @type {object | null} the last accepted state */
    this.state = null;
  }

  accept(state) {
    const seq = Number(state?.seq);
    if (!Number.isInteger(seq) || seq <= this.seq) return false;
    this.seq = seq;
    this.state = state;
    return true;
  }
}

/** A notification's version (1 when it has none: not a digest, or from an older gateway). */
export function versionOf(note) {
  const version = note?.version;
  return Number.isInteger(version) && version >= 1 ? version : 1;
}

/**
 * Whether `incoming` should replace `current` (the same id): only a higher version does, so
 * an older update that arrives late never overwrites a newer one (digests: docs/asyncapi.yaml,
 * NOTIFICATION_UPDATE).
 */
export function isNewer(current, incoming) {
  return versionOf(incoming) > versionOf(current);
}

/** The gateway's close codes (README, "Close codes"). */
export const CLOSE = Object.freeze({
  NORMAL: 1000,
  GOING_AWAY: 1001,
  ABNORMAL: 1006,
  NOT_UTF8: 1007,
  POLICY: 1008,
  TOO_BIG: 1009,
  INTERNAL: 1011,
  OVERLOADED: 1013,
  AUTH_REQUIRED: 4001,
  AUTH_TIMEOUT: 4002,
  AUTH_FAILED: 4003,
  TOO_MANY: 4029,
});

const STOP_CODES = new Set([1007, 1008, 1009, 4001]);

/**
 * What to do after a connection ended with `code` (null or 1006: no close frame):
 * "refresh" (4003: get a new token; "stop" without getToken), "stop" (the client is wrong:
 * reconnecting would loop), or "reconnect" after a backoff (1001, 1011, 1013, 4002, 4029, a
 * dropped connection, anything else).
 * @param {number|null|undefined} code
 * @param {boolean} canRefresh
 * @returns {"reconnect"|"refresh"|"stop"}
 */
export function afterClose(code, canRefresh) {
  if (code === CLOSE.AUTH_FAILED) return canRefresh ? "refresh" : "stop";
  if (code != null && STOP_CODES.has(code)) return "stop";
  return "reconnect";
}

/**
 * Exponential backoff with full jitter: the n-th delay is uniform in
 * [0, min(cap, base * 2^n)] milliseconds; reset() after a connection that authenticated.
 */
export class Backoff {
  /** @param {{base?: number, cap?: number, random?: () => number}} [options] */
  constructor({ base = 200, cap = 10_000, random = Math.random } = {}) {
    this.base = base;
    this.cap = cap;
    this.random = random;
    this.attempts = 0;
  }

  next() {
    const ceiling = Math.min(this.cap, this.base * 2 ** Math.min(this.attempts, 30));
    this.attempts += 1;
    return this.random() * ceiling;
  }

  reset() {
    this.attempts = 0;
  }
}

/**
 * Which notifications the app has seen and which ACKs are still owed (pure, no I/O).
 * onNotification(id, version) says "deliver" (new), "update" (seen, and this is a higher
 * version: a digest's update, to apply in place), "reack" (seen and acked by the app: the ACK
 * is owed again) or "skip" (seen, the app's ACK will follow). At most `remember` ids are
 * kept, the least recently seen dropped first.
 */
export class Ledger {
  constructor(remember = 10_000) {
    this.remember = remember;
    /** @type {Map<string, boolean>} id -> acked by the app */
    this.seen = new Map();
    /** @type {Map<string, number>} id -> the highest version seen (only when above 1) */
    this.versions = new Map();
    /** @type {Set<string>} ACKs the gateway has not confirmed, in order */
    this.owed = new Set();
    /** @type {Set<string>} owed ACKs not written on the current connection */
    this.unsent = new Set();
    this.duplicates = 0;
  }

  /** @param {string} id @param {number} [version] @returns {"deliver"|"update"|"reack"|"skip"} */
  onNotification(id, version = 1) {
    const acked = this.seen.get(id);
    if (acked === undefined) {
      this.seen.set(id, false);
      if (version > 1) this.versions.set(id, version);
      if (this.seen.size > this.remember) {
        const oldest = this.seen.keys().next().value;
        this.seen.delete(oldest);
        this.versions.delete(oldest);
      }
      return "deliver";
    }
    this.seen.delete(id);
    this.seen.set(id, acked);
    if (version > (this.versions.get(id) ?? 1)) {
      this.versions.set(id, version);
      return "update";
    }
    this.duplicates += 1;
    if (acked) {
      this.ack([id]);
      return "reack";
    }
    return "skip";
  }

  /** @param {Iterable<string>} ids */
  ack(ids) {
    for (const id of ids) {
      if (this.seen.has(id)) this.seen.set(id, true);
      this.owed.add(id);
      this.unsent.add(id);
    }
  }

  /** Up to `limit` owed ids to write now (they stay owed until ACK_OK). */
  takeUnsent(limit) {
    const batch = [];
    for (const id of this.unsent) {
      if (batch.length >= limit) break;
      batch.push(id);
    }
    for (const id of batch) this.unsent.delete(id);
    return batch;
  }

  onAckOk(acked = [], unknown = []) {
    for (const id of [...acked, ...unknown]) {
      this.owed.delete(id);
      this.unsent.delete(id);
    }
  }

  onTryAgain(ids = []) {
    for (const id of ids) if (this.owed.has(id)) this.unsent.add(id);
  }

  /** A new connection: every owed ACK is written again. */
  onReconnect() {
    this.unsent = new Set(this.owed);
  }
}

/** The frames the client sends (docs/asyncapi.yaml: AuthToken, AuthTrusted, Ack). */
export const frames = Object.freeze({
  authToken: (token) => ({ type: "AUTH", token }),
  authTrusted: (userId, tenantId) =>
    tenantId ? { type: "AUTH", userId, tenantId } : { type: "AUTH", userId },
  ack: (notificationIds) => ({ type: "ACK", notificationIds }),
  mark: (mark, notificationIds) => ({ type: "MARK", mark, notificationIds }),
  markAll: (mark) => ({ type: "MARK_ALL", mark }),
});

/** The client stopped for good: `code` is the close code (or null). */
export class HeraldError extends Error {
  constructor(code, message) {
    super(code != null ? `${code}: ${message}` : message);
    this.name = "HeraldError";
    this.code = code;
  }
}

/** A tiny event emitter: on() returns a function that unsubscribes. */
class Emitter {
  constructor() {
    /** @type {Map<string, Set<Function>>} */
    this._handlers = new Map();
  }

  on(event, handler) {
    if (!this._handlers.has(event)) this._handlers.set(event, new Set());
    this._handlers.get(event).add(handler);
    return () => this.off(event, handler);
  }

  off(event, handler) {
    this._handlers.get(event)?.delete(handler);
  }

  emit(event, ...values) {
    for (const handler of [...(this._handlers.get(event) ?? [])]) {
      try {
        handler(...values);
      } catch (err) {
        if (event !== "error") this.emit("error", { code: "HANDLER", message: String(err), fatal: false });
      }
    }
  }
}

/**
 * The WebSocket client. Events: "notification" (each notification once; a second argument
 * {replayed} says whether it was pending when the connection opened), "update" (a newer
 * version of a notification: a digest such as "alice and 11 others liked your post", the same
 * id, to replace in place; never an older version after a newer one; it may name an id the
 * app has only from the read API's history), "state"
 * ("connecting" | "open" | "reconnecting" | "closed"), "open" (the AUTH_OK frame and the url),
 * "ack" (ids the gateway confirmed), "inbox" (an INBOX_STATE newer than the last emitted:
 * {seq, mark, notificationIds, all, at, unseen, unread}), "error" ({code, message, fatal}),
 * "close" ({code, reason, action}: how a connection ended).
 */
export class HeraldClient extends Emitter {
  /**
   * @param {string | string[] | ((attempt: number) => string | Promise<string>)} url
   * @param {object} options see herald.d.ts (ConnectOptions)
   */
  constructor(url, options = {}) {
    super();
    const { token, getToken, userId, tenantId } = options;
    if (token == null && getToken == null && userId == null) {
      throw new TypeError("give token, getToken, or userId (a gateway in trusted mode)");
    }
    if (typeof url === "string") this._urls = [url];
    else if (Array.isArray(url) && url.length > 0) this._urls = [...url];
    else if (typeof url === "function") this._urlFn = url;
    else throw new TypeError("url: a ws:// URL, a non-empty list of them, or a function");
    this._WebSocket = options.WebSocket ?? globalThis.WebSocket;
    if (typeof this._WebSocket !== "function") {
      throw new TypeError("no WebSocket here: pass options.WebSocket (in Node 20: the ws package)");
    }
    this._token = token;
    this._getToken = getToken;
    this._trusted = { userId, tenantId };
    this.autoAck = options.autoAck ?? false;
    this.ackDelay = options.ackDelay ?? 5;
    this.ackBatch = options.ackBatch ?? 100;
    this.openTimeout = options.openTimeout ?? 10_000;
    this.backoff = options.backoff instanceof Backoff ? options.backoff : new Backoff(options.backoff);
    this.ledger = new Ledger(options.remember ?? 10_000);
    this.state = "idle";
    this.error = null;
    this.stats = { attempts: 0, connects: 0, deliveries: 0, updates: 0, ackRetries: 0, acked: 0, closes: {} };
    this.url = null;
    this._ws = null;
    this._closing = false;
    this._flushTimer = null;
    this._wake = null;
    this._replayLeft = 0;
    this.inbox = new InboxSeq();
    /** @type {{resolve: Function, reject: Function, frame: object}[]} marks sent, unanswered */
    this._marks = [];
    this._onOnline = () => this._wakeUp();
    this._onOffline = () => this._drop();
  }

  /** Start connecting (connect() does this); returns the client. */
  start() {
    if (this._running) return this;
    this._running = this._run();
    if (typeof globalThis.addEventListener === "function") {
      globalThis.addEventListener("online", this._onOnline);
      globalThis.addEventListener("offline", this._onOffline);
    }
    return this;
  }

  /** Resolves at the next AUTH_OK (at once if open); rejects when the client stops. */
  waitOpen(timeoutMs = 10_000) {
    if (this.state === "open") return Promise.resolve(this);
    if (this._closing && this.state === "closed") {
      return Promise.reject(this.error ?? new HeraldError(null, "closed"));
    }
    return new Promise((resolve, reject) => {
      const offs = [];
      const done = (fn, value) => {
        clearTimeout(timer);
        offs.forEach((off) => off());
        fn(value);
      };
      const timer = setTimeout(() => done(reject, new HeraldError(null, "not open in time")), timeoutMs);
      offs.push(this.on("open", () => done(resolve, this)));
      offs.push(this.on("state", (s) => {
        if (s === "closed") done(reject, this.error ?? new HeraldError(null, "closed"));
      }));
    });
  }

  /** ACK these notifications: sent within ackDelay ms, many per frame, again until confirmed. */
  ack(...ids) {
    this.ledger.ack(ids.flat());
    this._scheduleFlush(this.ledger.unsent.size >= this.ackBatch ? 0 : this.ackDelay);
  }

  /**
   * Mark some of the user's notifications: "seen", "read" (implies seen), "archived" (implies
   * read) or "unarchived". Resolves with the gateway's answer {mark, notificationIds (the
   * user's), unknown, changed, seq} (more than MAX_MARK_IDS ids: several frames, one answer
   * merged); rejects with a HeraldError if not open, refused, or not recorded (TRY_AGAIN:
   * call again; a repeat is safe). The new counts come as an "inbox" event, in every tab.
   */
  async mark(mark, ids) {
    const list = [...new Set([ids].flat())];
    if (!MARKS.includes(mark)) throw new TypeError(`mark: one of ${MARKS.join(", ")}`);
    if (list.length === 0) throw new TypeError("give at least one notification id");
    const answers = [];
    for (let at = 0; at < list.length; at += MAX_MARK_IDS) {
      answers.push(await this._sendMark(frames.mark(mark, list.slice(at, at + MAX_MARK_IDS))));
    }
    return {
      type: "MARK_OK", mark, all: false,
      notificationIds: answers.flatMap((a) => a.notificationIds ?? []),
      unknown: answers.flatMap((a) => a.unknown ?? []),
      changed: answers.reduce((n, a) => n + (a.changed ?? 0), 0),
      seq: Math.max(...answers.map((a) => a.seq ?? 0)),
    };
  }

  /**
   * Mark every notification of the user that exists when the gateway begins (a high-water
   * mark: one arriving meanwhile is left). Resolves with {mark, all: true, changed, seq}.
   */
  markAll(mark) {
    if (!MARKS.includes(mark)) return Promise.reject(new TypeError(`mark: one of ${MARKS.join(", ")}`));
    return this._sendMark(frames.markAll(mark));
  }

  _sendMark(frame) {
    const ws = this._ws;
    if (!ws || ws.readyState !== 1 || this.state !== "open") {
      return Promise.reject(new HeraldError(null, "not connected: mark again once open"));
    }
    return new Promise((resolve, reject) => {
      this._marks.push({ resolve, reject, frame });
      ws.send(JSON.stringify(frame));
    });
  }

  /** Every mark sent on a connection that ended is unanswered: its fate is unknown. */
  _failMarks(message) {
    const marks = this._marks;
    this._marks = [];
    for (const m of marks) m.reject(new HeraldError(null, message));
  }

  /** Drop the current connection (as a network drop would); the client reconnects. */
  reconnect() {
    this._drop();
    this._wakeUp();
  }

  /** Send the ACKs owed (if connected), close, and stop. */
  async close() {
    if (this._closing) return;
    this._flushNow();
    this._closing = true;
    clearTimeout(this._flushTimer);
    if (typeof globalThis.removeEventListener === "function") {
      globalThis.removeEventListener("online", this._onOnline);
      globalThis.removeEventListener("offline", this._onOffline);
    }
    const ws = this._ws;
    if (ws && ws.readyState <= 1) ws.close(1000, "client closed");
    this._wakeUp();
    await this._running;
    this._setState("closed");
  }

  // --- the connection ------------------------------------------------------------------------
  async _run() {
    while (!this._closing) {
      this._setState(this.stats.connects === 0 ? "connecting" : "reconnecting");
      const { code, reason } = await this._connectOnce();
      if (this._closing) break;
      const key = code == null ? "none" : String(code);
      this.stats.closes[key] = (this.stats.closes[key] ?? 0) + 1;
      const action = afterClose(code, this._getToken != null);
      this.emit("close", { code, reason, action });
      if (action === "stop") {
        this.error = new HeraldError(code, reason || "the gateway refused this client");
        this.emit("error", { code, message: this.error.message, fatal: true });
        this._closing = true;
        break;
      }
      if (code === CLOSE.AUTH_FAILED) {
        this.emit("error", { code, message: reason || "token refused: asking getToken", fatal: false });
      }
      await this._pause(this.backoff.next());
    }
    this._setState("closed");
  }

  _pause(ms) {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this._wake = done;
    }).finally(() => {
      this._wake = null;
    });
  }

  _wakeUp() {
    this._wake?.();
  }

  _drop() {
    const ws = this._ws;
    if (ws && ws.readyState <= 1) ws.close(4000, "client dropped");
  }

  async _nextUrl() {
    const attempt = this.stats.attempts++;
    if (this._urlFn) return await this._urlFn(attempt);
    return this._urls[attempt % this._urls.length];
  }

  async _authFrame() {
    if (this._getToken) return frames.authToken(await this._getToken());
    if (this._token != null) return frames.authToken(this._token);
    return frames.authTrusted(this._trusted.userId, this._trusted.tenantId);
  }

  /** One connection until it ends: {code (null: none received), reason}. */
  async _connectOnce() {
    let url, auth;
    try {
      url = await this._nextUrl();
      auth = JSON.stringify(await this._authFrame());
    } catch (err) {
      this.emit("error", { code: "SETUP", message: String(err?.message ?? err), fatal: false });
      return { code: null, reason: "could not get a url or a token" };
    }
    return new Promise((resolve) => {
      let ws;
      try {
        ws = new this._WebSocket(url);
      } catch (err) {
        resolve({ code: CLOSE.POLICY, reason: `bad url: ${err?.message ?? err}` });
        return;
      }
      this._ws = ws;
      this.url = url;
      let authed = false;
      const timer = setTimeout(() => {
        if (!authed) ws.close(4000, "open timeout");
      }, this.openTimeout);
      ws.onopen = () => ws.send(auth);
      ws.onmessage = (event) => {
        let frame;
        try {
          frame = JSON.parse(typeof event.data === "string" ? event.data : String(event.data));
        } catch {
          this.emit("error", { code: "BAD_FRAME", message: "a frame that is not JSON", fatal: false });
          return;
        }
        if (frame?.type === "AUTH_OK") {
          authed = true;
          clearTimeout(timer);
        }
        this._onFrame(frame);
      };
      ws.onerror = () => {};
      ws.onclose = (event) => {
        clearTimeout(timer);
        if (this._ws === ws) this._ws = null;
        this._failMarks("the connection ended before the mark was answered; mark again");
        const code = event.code === CLOSE.ABNORMAL || event.code === 4000 ? null : event.code;
        resolve({ code: code ?? null, reason: event.reason || "" });
      };
    });
  }

  _onFrame(frame) {
    switch (frame?.type) {
      case "NOTIFICATION":
      case "NOTIFICATION_UPDATE": {
        this.stats.deliveries += 1;
        const note = frame.notification;
        const isUpdate = frame.type === "NOTIFICATION_UPDATE";
        const replayed = !isUpdate && this._replayLeft > 0; // the first `pending` after AUTH_OK
        if (replayed) this._replayLeft -= 1;
        const verdict = this.ledger.onNotification(note.id, versionOf(note));
        if (verdict === "deliver" && !isUpdate) {
          this.emit("notification", note, { replayed });
          if (this.autoAck) this.ack(note.id);
        } else if (verdict === "deliver" || verdict === "update") {
          this.stats.updates += 1;
          this.emit("update", note, { replayed });
          if (this.autoAck) this.ack(note.id);
        } else if (verdict === "reack") {
          this._scheduleFlush(this.ackDelay);
        }
        break;
      }
      case "ACK_OK": {
        const acked = frame.notificationIds ?? [];
        this.ledger.onAckOk(acked, frame.unknown ?? []);
        this.stats.acked += acked.length;
        this.emit("ack", [...acked, ...(frame.unknown ?? [])]);
        break;
      }
      case "MARK_OK":
        this._marks.shift()?.resolve(frame);
        break;
      case "INBOX_STATE":
        if (this.inbox.accept(frame)) {
          const { type: _type, ...state } = frame;
          this.emit("inbox", state);
        }
        break;
      case "AUTH_OK":
        this.stats.connects += 1;
        this._replayLeft = Number(frame.pending) || 0;
        this.backoff.reset();
        this.ledger.onReconnect();
        this._setState("open");
        this.emit("open", { ...frame, url: this.url });
        this._scheduleFlush(0);
        break;
      case "ERROR":
        if (frame.code === "BAD_MARK" || (frame.code === "TRY_AGAIN" && frame.mark != null)) {
          // the answer to the oldest mark sent (frames are answered in order)
          const waiting = this._marks.shift();
          const error = new HeraldError(null, `${frame.code}: ${frame.message}`);
          error.frameCode = frame.code;
          if (waiting) waiting.reject(error);
          else this.emit("error", { code: frame.code, message: frame.message, fatal: false });
        } else if (frame.code === "TRY_AGAIN") {
          this.stats.ackRetries += 1;
          this.ledger.onTryAgain(frame.notificationIds ?? []);
          this._scheduleFlush(200);
        } else {
          this.emit("error", { code: frame.code, message: frame.message, fatal: false });
        }
        break;
      default:
        this.emit("error", { code: "UNKNOWN_FRAME", message: `frame type ${frame?.type}`, fatal: false });
    }
  }

  _scheduleFlush(delay) {
    if (this._flushTimer != null) {
      if (delay > 0) return;
      clearTimeout(this._flushTimer);
    }
    this._flushTimer = setTimeout(() => {
      this._flushTimer = null;
      this._flushNow();
    }, delay);
  }

  _flushNow() {
    const ws = this._ws;
    if (!ws || ws.readyState !== 1 || this.state !== "open") return;
    for (let batch = this.ledger.takeUnsent(this.ackBatch); batch.length > 0;
      batch = this.ledger.takeUnsent(this.ackBatch)) {
      ws.send(JSON.stringify(frames.ack(batch)));
    }
  }

  _setState(state) {
    if (state !== this.state) {
      this.state = state;
      this.emit("state", state);
    }
  }
}

/** A started client: `new HeraldClient(url, options).start()`. */
export function connect(url, options) {
  return new HeraldClient(url, options).start();
}

/** An answer of the read API that was not 2xx: `status`, and Herald's JSON error as `body`. */
export class HeraldHttpError extends Error {
  constructor(status, body) {
    super(`${status} ${body?.error ?? ""}: ${body?.message ?? ""}`.trim());
    this.name = "HeraldHttpError";
    this.status = status;
    this.body = body;
  }
}

/**
 * The read API (the producer): history a page at a time, unread count, mark read, mark all
 * read, and the user's own settings (preferences, profile). Credentials: a user's JWT (token
 * or getToken) or a backend key (apiKey), sent as Authorization: Bearer; none in trusted mode.
 * The settings' methods take the user as their first argument, or use options.userId when it
 * is left out: `api.getPreferences()` with `new ReadApi(url, {token, userId})`.
 */
export class ReadApi {
  /** @param {string} baseUrl e.g. "http://127.0.0.1:8000" ("" : this page's origin) */
  constructor(baseUrl = "", options = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, "");
    this._token = options.token ?? options.apiKey;
    this._getToken = options.getToken;
    this._tenantId = options.tenantId;
    this.userId = options.userId;
    this._fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  }

  async _call(method, path, params = {}, json = undefined) {
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(params)) if (value != null) query.set(key, String(value));
    if (this._tenantId && !query.has("tenantId")) query.set("tenantId", this._tenantId);
    const credential = this._getToken ? await this._getToken() : this._token;
    const headers = credential ? { Authorization: `Bearer ${credential}` } : {};
    const init = { method, headers };
    if (json !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(json);
    }
    const qs = query.toString();
    const answer = await this._fetch(`${this.baseUrl}${path}${qs ? `?${qs}` : ""}`, init);
    const body = await answer.json().catch(() => null);
    if (!answer.ok) throw new HeraldHttpError(answer.status, body);
    return body;
  }

  /** One page, newest first: {notifications, nextCursor, hasMore}. */
  page(userId, { limit = 20, cursor } = {}) {
    return this._call("GET", `/v1/users/${encodeURIComponent(userId)}/notifications`, { limit, cursor });
  }

  /** Every page, newest first, following nextCursor. */
  async *pages(userId, { limit = 20, cursor } = {}) {
    let next = cursor;
    for (;;) {
      const page = await this.page(userId, { limit, cursor: next });
      yield page;
      if (!page.hasMore || !page.nextCursor) return;
      next = page.nextCursor;
    }
  }

  /** Every notification of the user, newest first, fetched a page at a time. */
  async *history(userId, { limit = 50 } = {}) {
    for await (const page of this.pages(userId, { limit })) yield* page.notifications;
  }

  async unreadCount(userId) {
    const body = await this._call("GET", `/v1/users/${encodeURIComponent(userId)}/notifications/unread-count`);
    return body.unread;
  }

  /** Marks one notification read (and acknowledges it if still pending). */
  async markRead(notificationId, { userId } = {}) {
    await this._call("POST", `/v1/notifications/${encodeURIComponent(notificationId)}/read`, { userId });
  }

  /** Marks every notification of the user read; how many were marked. */
  async markAllRead(userId) {
    const body = await this._call("POST", `/v1/users/${encodeURIComponent(userId)}/notifications/read-all`);
    return body.marked;
  }

  /** {userId, tenantId, unseen, unread, seq}: the badge figures and the last announced seq. */
  async counts(userId) {
    const [path] = this._user(userId);
    return this._call("GET", `${path}/notifications/counts`);
  }

  /**
   * Marks some notifications "seen", "read", "archived" or "unarchived" (1–500 ids):
   * {marked, unknown, state: {seq, mark, notificationIds, all, at, unseen, unread}}. Every
   * connection of the user gets the state as INBOX_STATE.
   */
  async mark(userId, mark, notificationIds) {
    if (Array.isArray(mark)) [userId, mark, notificationIds] = [undefined, userId, mark];
    const [path] = this._user(userId);
    return this._call("POST", `${path}/notifications/marks`, {}, { mark, notificationIds });
  }

  /** Marks every notification that exists now (a high-water mark): {changed, state}. */
  async markAll(userId, mark) {
    if (mark === undefined) [userId, mark] = [undefined, userId];
    const [path] = this._user(userId);
    return this._call("POST", `${path}/notifications/marks/all`, {}, { mark });
  }

  /** One page of the archived notifications (archived: out of the default history). */
  archived(userId, { limit = 20, cursor } = {}) {
    return this._call("GET", `/v1/users/${encodeURIComponent(userId)}/notifications`, { limit, cursor, archived: true });
  }

  /** (userId?, rest) → [the user's path segment, rest]: the user may be left out (options.userId). */
  _user(userId, rest) {
    if (typeof userId !== "string") [userId, rest] = [this.userId, userId];
    if (typeof userId !== "string" || !userId) throw new TypeError("give the user: a first argument or options.userId");
    return [`/v1/users/${encodeURIComponent(userId)}`, rest ?? {}];
  }

  /**
   * The user's preferences: {userId, tenantId, types: {name: {enabled, transactional,
   * default}}, quietHours: {start, end} | null}, for every type the tenant has (a
   * transactional type is always enabled).
   */
  async getPreferences(userId) {
    const [path] = this._user(userId);
    return this._call("GET", `${path}/preferences`);
  }

  /**
   * Sets the user's preferences, both parts (as PUT does): `types` {name: on/off} (a type
   * left out follows its default), `quietHours` {start: "22:00", end: "07:00"} or null
   * (none). Answers as getPreferences().
   */
  async setPreferences(userId, choices) {
    const [path, { types = {}, quietHours = null }] = this._user(userId, choices);
    return this._call("PUT", `${path}/preferences`, {}, { types, quietHours });
  }

  /** The user's profile: {userId, tenantId, locale, timeZone} (null: not set). */
  async getProfile(userId) {
    const [path] = this._user(userId);
    return this._call("GET", `${path}/profile`);
  }

  /**
   * Sets the user's profile, both fields (as PUT does; null or left out clears one): `locale`
   * ("de-AT"), `timeZone` (an IANA name, "Europe/Vienna"). Answers as getProfile().
   */
  async setProfile(userId, profile) {
    const [path, { locale = null, timeZone = null }] = this._user(userId, profile);
    return this._call("PUT", `${path}/profile`, {}, { locale, timeZone });
  }
}
