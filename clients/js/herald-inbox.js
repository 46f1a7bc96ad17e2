/**
 * <herald-inbox>: a notification inbox as a web component, built on herald.js (no framework).
 *
 *   <script type="module" src="/sdk/herald-inbox.js"></script>
 *   <herald-inbox gateway="ws://127.0.0.1:8001/ws" user="bob" token="…"></herald-inbox>
 *
 * A bell with the unseen count (the badge); it opens a panel (or `open` keeps it open) listing
 * the user's notifications newest first, a page at a time by cursor as the list scrolls (infinite
 * scroll; a "Load more" button does the same from the keyboard), with "Mark read" on each
 * unread one and "Mark all read". New notifications arrive live over the gateway, are
 * acknowledged as they are shown, and are announced to screen readers (aria-live). A digest's
 * update ("alice and 11 others liked your post") replaces its row in place — the same id, no
 * second row — and marks it unread again, as the history does; an older version never
 * overwrites a newer one (from the gateway or from a page of history).
 *
 * Inbox states (the README's "Inbox states"): opening the bell marks everything seen (MARK_ALL
 * seen: the badge goes to 0; what arrives afterwards is new again); clicking a notification (or
 * "Mark read", or Enter on its row) marks it read; "Archive" archives it (it leaves the list;
 * the history's `?archived=true` still has it). Marks go over the gateway (MARK / MARK_ALL; the
 * read API when the gateway is not open), and every tab of the user shows the same badge and
 * rows: each applies every INBOX_STATE whose seq is above the last it applied (the read API's
 * counts, asked after arrivals, only when at least as new).
 *
 * "Preferences" (a button in the panel's header) opens the user's settings: each of the
 * tenant's types on or off (a transactional type is shown on and cannot be turned off), quiet
 * hours (start, end) and the time zone they are in, saved through the SDK
 * (ReadApi.setPreferences, and setProfile when the time zone changed). Every text the
 * component shows (messages, type names, errors) is set as text, never as HTML.
 *
 * Attributes: gateway (a ws:// URL, or several separated by spaces), api (the producer's base
 * URL; default this page's origin), user, token (a JWT; without one the gateway and read API
 * must be in trusted mode), tenant (trusted mode), page-size (default 20), open.
 * Or call `inbox.start({gateway, api, user, token, getToken, WebSocket})`.
 * Events: "herald-notification" (detail: the notification), "herald-update" (detail: the
 * newer version of a notification shown), "herald-state" (detail: state).
 * Theme with CSS variables on the element: --herald-accent, --herald-bg, --herald-fg,
 * --herald-muted, --herald-border, --herald-unread-bg, --herald-badge-bg, --herald-badge-fg,
 * --herald-radius, --herald-font, --herald-width, --herald-max-height.
 */
import { connect, isNewer, ReadApi } from "./herald.js";

const STYLE = `
:host {
  --_accent: var(--herald-accent, #3b5bdb);
  --_bg: var(--herald-bg, #fff);
  --_fg: var(--herald-fg, #1f2328);
  --_muted: var(--herald-muted, #5f6b7a);
  --_border: var(--herald-border, #d8dee4);
  --_unread: var(--herald-unread-bg, #eef2ff);
  --_badge-bg: var(--herald-badge-bg, #c92a2a);
  --_badge-fg: var(--herald-badge-fg, #fff);
  --_radius: var(--herald-radius, 8px);
  display: inline-block; position: relative;
  font: var(--herald-font, 14px/1.4 system-ui, sans-serif); color: var(--_fg);
}
button { font: inherit; cursor: pointer; }
button:focus-visible, li:focus-visible { outline: 2px solid var(--_accent); outline-offset: 2px; }
.bell { position: relative; background: var(--_bg); border: 1px solid var(--_border);
  border-radius: 50%; width: 2.6em; height: 2.6em; display: grid; place-items: center; color: var(--_fg); }
.bell svg { width: 1.3em; height: 1.3em; }
.badge { position: absolute; top: -.35em; right: -.35em; min-width: 1.4em; height: 1.4em; padding: 0 .3em;
  border-radius: .7em; background: var(--_badge-bg); color: var(--_badge-fg); font-size: .75em;
  font-weight: 700; display: grid; place-items: center; box-sizing: border-box; }
.badge[hidden] { display: none; }
.panel { position: absolute; z-index: 10; top: calc(100% + .5em); right: 0; width: var(--herald-width, 24em);
  background: var(--_bg); border: 1px solid var(--_border); border-radius: var(--_radius);
  box-shadow: 0 8px 24px rgba(0,0,0,.12); }
:host([inline]) .panel { position: static; margin-top: .5em; box-shadow: none; }
.panel[hidden] { display: none; }
header { display: flex; align-items: center; gap: .5em; padding: .6em .8em; border-bottom: 1px solid var(--_border); }
header h2 { font-size: 1em; margin: 0; flex: 1; }
.state { font-size: .8em; color: var(--_muted); }
.state[data-state="open"]::before { content: "● "; color: #2b8a3e; }
.link { background: none; border: none; color: var(--_accent); padding: .2em .3em; }
.link:disabled { color: var(--_muted); cursor: default; }
ul { list-style: none; margin: 0; padding: 0; max-height: var(--herald-max-height, 22em); overflow-y: auto; }
li { display: flex; gap: .6em; align-items: flex-start; padding: .6em .8em; border-bottom: 1px solid var(--_border); }
li.unread { background: var(--_unread); }
li .dot { width: .55em; height: .55em; margin-top: .45em; border-radius: 50%; flex: none; background: transparent; }
li.unread .dot { background: var(--_accent); }
li .body { flex: 1; min-width: 0; cursor: pointer; }
li .archive { color: var(--_muted); }
li .message { overflow-wrap: anywhere; }
li.unread .message { font-weight: 600; }
li time { display: block; color: var(--_muted); font-size: .8em; }
.more, .empty { padding: .6em .8em; text-align: center; color: var(--_muted); }
.sentinel { height: 1px; }
.prefs { padding: .6em .8em; border-bottom: 1px solid var(--_border); }
.prefs[hidden] { display: none; }
.prefs fieldset { border: none; margin: 0 0 .6em; padding: 0; }
.prefs legend { font-weight: 600; padding: 0; margin-bottom: .3em; }
.prefs label { display: flex; gap: .5em; align-items: center; margin: .2em 0; }
.prefs .types { max-height: 12em; overflow-y: auto; }
.prefs .note { color: var(--_muted); font-size: .85em; }
.prefs .row { display: flex; gap: .8em; flex-wrap: wrap; }
.prefs input[type=time], .prefs input.time-zone { font: inherit; }
.prefs .actions { display: flex; gap: .6em; align-items: center; }
.prefs .prefs-status[data-error] { color: #c92a2a; }
.sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
`;

const BELL = `<svg viewBox="0 0 24 24" aria-hidden="true" fill="none" stroke="currentColor" stroke-width="2"
 stroke-linecap="round" stroke-linejoin="round"><path d="M18 8a6 6 0 0 0-12 0c0 7-3 9-3 9h18s-3-2-3-9"/>
 <path d="M13.7 21a2 2 0 0 1-3.4 0"/></svg>`;

let counter = 0;

/** This browser's IANA time zone (what quiet hours default to when the profile has none). */
function localZone() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  } catch {
    return "UTC";
  }
}

export class HeraldInbox extends HTMLElement {
  static get observedAttributes() {
    return ["open"];
  }

  constructor() {
    super();
    const id = `herald-inbox-${++counter}`;
    const root = this.attachShadow({ mode: "open" });
    root.innerHTML = `<style>${STYLE}</style>
      <button class="bell" part="bell" aria-haspopup="true" aria-expanded="false" aria-controls="${id}">
        ${BELL}<span class="badge" part="badge" hidden aria-hidden="true">0</span>
      </button>
      <section class="panel" part="panel" id="${id}" role="region" aria-labelledby="${id}-title" hidden>
        <header><h2 id="${id}-title">Notifications</h2>
          <span class="state" part="state" data-state="idle">not connected</span>
          <button class="link prefs-toggle" part="preferences-button" aria-expanded="false" aria-controls="${id}-prefs">Preferences</button>
          <button class="link mark-all" part="mark-all" disabled>Mark all read</button></header>
        <form class="prefs" part="preferences" id="${id}-prefs" aria-label="Notification preferences" hidden>
          <fieldset><legend>Notify me about</legend><div class="types"></div></fieldset>
          <fieldset><legend>Quiet hours</legend>
            <label><input type="checkbox" class="quiet-on"> Hold notifications during quiet hours</label>
            <div class="row">
              <label>from <input type="time" class="quiet-start" value="22:00" required></label>
              <label>to <input type="time" class="quiet-end" value="07:00" required></label>
            </div>
            <label>time zone <input class="time-zone" size="18" maxlength="64" autocomplete="off" spellcheck="false" placeholder="Europe/Berlin"></label>
          </fieldset>
          <div class="actions"><button type="submit" class="save-prefs">Save</button>
            <button type="button" class="link close-prefs">Close</button>
            <span class="prefs-status" aria-live="polite"></span></div>
        </form>
        <ul role="list" aria-labelledby="${id}-title" aria-busy="false"></ul>
        <div class="empty" hidden>No notifications yet.</div>
        <div class="more"><button class="link load-more" hidden>Load more</button></div>
      </section>
      <div class="sr" role="status" aria-live="polite" aria-atomic="true"></div>`;
    this._bell = root.querySelector(".bell");
    this._badge = root.querySelector(".badge");
    this._panel = root.querySelector(".panel");
    this._list = root.querySelector("ul");
    this._empty = root.querySelector(".empty");
    this._more = root.querySelector(".load-more");
    this._stateEl = root.querySelector(".state");
    this._markAll = root.querySelector(".mark-all");
    this._live = root.querySelector("[role=status]");
    this._prefsButton = root.querySelector(".prefs-toggle");
    this._prefs = root.querySelector(".prefs");
    this._prefsStatus = root.querySelector(".prefs-status");
    /** @type {Map<string, {note: object, li: HTMLLIElement, read: boolean}>} */
    this._items = new Map();
    this.unread = 0;
    this.unseen = 0;
    this._seq = 0; // the seq of the inbox state shown
    this._cursor = undefined; // undefined: first page not loaded; null: no more
    this._loading = false;

    this._bell.addEventListener("click", () => {
      this.toggle();
      if (!this._panel.hidden) this.markAllSeen();
    });
    this._markAll.addEventListener("click", () => this.markAllRead());
    this._more.addEventListener("click", () => this.loadMore());
    this._list.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-read]");
      if (button) return void this.markRead(button.dataset.read);
      const archive = event.target.closest("button[data-archive]");
      if (archive) return void this.archive(archive.dataset.archive);
      const body = event.target.closest("li[data-id] .body");
      if (body) this.markRead(body.closest("li").dataset.id);
    });
    this._panel.addEventListener("keydown", (event) => this._onKey(event));
    this._prefsButton.addEventListener("click", () => this.togglePreferences());
    root.querySelector(".close-prefs").addEventListener("click", () => this.togglePreferences(false));
    this._prefs.addEventListener("submit", (event) => {
      event.preventDefault();
      this.savePreferences();
    });
    this._prefs.querySelector(".quiet-on").addEventListener("change", () => this._syncQuiet());
  }

  connectedCallback() {
    if (this.hasAttribute("open")) this._setOpen(true);
    const gateway = this.getAttribute("gateway");
    if (gateway && !this.client && (this.getAttribute("token") || this.getAttribute("user"))) {
      this.start({
        gateway: gateway.split(/\s+/).filter(Boolean),
        api: this.getAttribute("api") ?? "",
        user: this.getAttribute("user") ?? undefined,
        token: this.getAttribute("token") || undefined,
        tenant: this.getAttribute("tenant") ?? undefined,
      });
    }
  }

  disconnectedCallback() {
    this._observer?.disconnect();
    this.client?.close();
  }

  attributeChangedCallback(name) {
    if (name === "open") this._setOpen(this.hasAttribute("open"));
  }

  /** Connect to the gateway and the read API (the attributes do this on their own). */
  start({ gateway, api = "", user, token, getToken, tenant, WebSocket } = {}) {
    this.client?.close();
    this.user = user;
    const credentials = getToken ? { getToken } : token ? { token } : { userId: user, tenantId: tenant };
    this.api = new ReadApi(api, { token, getToken, tenantId: token || getToken ? undefined : tenant });
    this.client = connect(gateway, { ...credentials, autoAck: true, WebSocket });
    this.client.on("state", (state) => this._showState(state));
    this.client.on("open", (frame) => {
      this.user = frame.userId;
      if (this._cursor === undefined) this.loadMore();
      this._refreshCount();
    });
    this.client.on("notification", (note, info) => this._arrived(note, info?.replayed));
    this.client.on("update", (note) => this._updated(note));
    this.client.on("inbox", (state) => this._applyState(state));
    this.client.on("error", (error) => {
      if (error.fatal) this._showState("closed", error.message);
    });
    this._observe();
    return this.client;
  }

  toggle() {
    this._setOpen(this._panel.hidden);
  }

  _setOpen(open) {
    this._panel.hidden = !open;
    this._bell.setAttribute("aria-expanded", String(open));
    if (open) this._focusFirst();
  }

  _observe() {
    if (this._observer || typeof IntersectionObserver !== "function") return;
    this._observer = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) this.loadMore();
    }, { root: this._list, rootMargin: "0px 0px 80px 0px" });
    // the sentinel must sit inside the scrolling list to be seen as it scrolls
    this._sentinel = document.createElement("li");
    this._sentinel.className = "sentinel";
    this._sentinel.setAttribute("aria-hidden", "true");
    this._list.append(this._sentinel);
    this._observer.observe(this._sentinel);
  }

  /** The next page of history (the first one at the start). */
  async loadMore() {
    if (this._loading || this._cursor === null || !this.api || !this.user) return;
    this._loading = true;
    this._list.setAttribute("aria-busy", "true");
    try {
      const page = await this.api.page(this.user, { limit: Number(this.getAttribute("page-size") || 20), cursor: this._cursor ?? undefined });
      for (const note of page.notifications) this._add(note, { atTop: false, read: note.readAt != null, seen: note.seenAt != null });
      this._cursor = page.hasMore ? page.nextCursor : null;
    } catch (error) {
      this._announce(`Could not load notifications: ${error.message}`);
    } finally {
      this._loading = false;
      this._list.setAttribute("aria-busy", "false");
      this._more.hidden = this._cursor === null;
      this._empty.hidden = this._items.size > 0;
    }
    // keep filling while the list is not yet scrollable
    if (this._cursor && this._list.scrollHeight <= this._list.clientHeight + 4 && !this._panel.hidden) {
      await this.loadMore();
    }
  }

  async markRead(id) {
    const item = this._items.get(id);
    if (!item || item.read || item.busy) return;
    item.busy = true;
    try {
      await this._mark("read", [id]);
    } finally {
      item.busy = false;
    }
    this._setRead(item);
    this._announce("Marked read");
  }

  /** Archive one notification: it leaves the list (every tab's). */
  async archive(id) {
    const item = this._items.get(id);
    if (!item || item.busy) return;
    item.busy = true;
    try {
      await this._mark("archived", [id]);
    } finally {
      item.busy = false;
    }
    this._remove(id);
    this._announce("Archived");
  }

  async markAllRead() {
    const changed = await this._markEvery("read"); // its state marks the rows (by its `at`)
    this._announce(`${changed} marked read`);
  }

  /** Everything that exists now is seen (what opening the bell does): the badge goes to 0. */
  async markAllSeen() {
    if (!this.user || this.unseen === 0) return;
    try {
      await this._markEvery("seen");
    } catch {
      // not marked: the badge stays, the next opening tries again
    }
  }

  /** A mark over the gateway, or the read API when the gateway is not open. */
  async _mark(mark, ids) {
    if (this.client?.state === "open") {
      try {
        return (await this.client.mark(mark, ids)).changed;
      } catch (error) {
        if (error instanceof TypeError) throw error;
      }
    }
    const done = await this.api.mark(this.user, mark, ids);
    this._applyState(done.state);
    return done.marked.length;
  }

  async _markEvery(mark) {
    if (this.client?.state === "open") {
      try {
        return (await this.client.markAll(mark)).changed;
      } catch (error) {
        if (error instanceof TypeError) throw error;
      }
    }
    const done = await this.api.markAll(this.user, mark);
    this._applyState(done.state);
    return done.changed;
  }

  /**
   * An inbox state (INBOX_STATE, or the read API's answer to a mark): its counts, and its mark
   * applied to the rows shown (for a mark of all: those created by its `at`). Only a state
   * newer than the one shown (a higher seq) is applied.
   */
  _applyState(state) {
    if (!state || !(state.seq > this._seq)) return;
    this._seq = state.seq;
    this.unseen = state.unseen;
    this.unread = state.unread;
    const at = Date.parse(state.at);
    const targets = state.all
      ? [...this._items.values()].filter((item) => !(Date.parse(item.note.createdAt) > at))
      : (state.notificationIds ?? []).map((id) => this._items.get(id)).filter(Boolean);
    for (const item of targets) {
      if (state.mark === "seen") item.seen = true;
      else if (state.mark === "read") this._setRead(item);
      else if (state.mark === "archived") this._remove(item.note.id);
    }
    this._showCount();
    this.dispatchEvent(new CustomEvent("herald-inbox-state", { detail: state }));
  }

  _remove(id) {
    const item = this._items.get(id);
    if (!item) return;
    item.li.remove();
    this._items.delete(id);
    this._empty.hidden = this._items.size > 0;
  }

  _arrived(note, replayed) {
    if (replayed) {
      // pending when the connection opened: already in the history and in the count; shown
      // now only if it falls within what is loaded (paging brings the others)
      if (this._cursor !== undefined) this._add(note, { read: false, sorted: true });
      this._scheduleCount(); // acknowledged now: asked again once they have settled
    } else if (this._add(note, { atTop: true, read: false })) {
      this.unread += 1;
      this.unseen += 1;
      this._showCount();
      this._announce(`New notification: ${note.message}`);
      this._scheduleCount();
    }
    this.dispatchEvent(new CustomEvent("herald-notification", { detail: note }));
  }

  /** A newer version of a notification (a digest): in place, unread again; or a new row. */
  _updated(note) {
    const item = this._items.get(note.id);
    if (item) {
      if (this._replace(item, note)) this._announce(`Updated: ${note.message}`);
    } else if (this._cursor !== undefined && this._add(note, { read: false, sorted: true })) {
      this.unread += 1;
      this.unseen += 1;
      this._showCount();
      this._announce(`Updated: ${note.message}`);
    }
    this._scheduleCount();
    this.dispatchEvent(new CustomEvent("herald-update", { detail: note }));
  }

  /** Apply a newer version to a row in place (an older or equal one changes nothing). */
  _replace(item, note) {
    if (!isNewer(item.note, note)) return false;
    item.note = note;
    item.li.querySelector(".message").textContent = note.message;
    if (item.seen) {
      // an update brings a notification back unseen (and unread): the README's rule
      item.seen = false;
      this.unseen += 1;
      this._showCount();
    }
    if (item.read) {
      item.read = false;
      item.li.classList.add("unread");
      item.li.insertBefore(this._readButton(note), item.li.querySelector("button[data-archive]"));
      this.unread += 1;
      this._showCount();
    } else {
      item.li.querySelector("button[data-read]")?.setAttribute("aria-label", `Mark read: ${note.message}`);
    }
    this._syncLabels(item);
    return true;
  }

  _readButton(note) {
    const button = document.createElement("button");
    button.className = "link";
    button.dataset.read = note.id;
    button.textContent = "Mark read";
    button.setAttribute("aria-label", `Mark read: ${note.message}`);
    return button;
  }

  _archiveButton(note) {
    const button = document.createElement("button");
    button.className = "link archive";
    button.dataset.archive = note.id;
    button.textContent = "Archive";
    button.setAttribute("aria-label", `Archive: ${note.message}`);
    return button;
  }

  _add(note, { atTop = false, read, seen = read, sorted = false }) {
    const known = this._items.get(note.id);
    if (known) {
      // a page of history may bring a newer version than the one shown (or an older one)
      if (isNewer(known.note, note) && read) {
        known.note = note;
        known.li.querySelector(".message").textContent = note.message;
        this._syncLabels(known);
      } else if (isNewer(known.note, note)) {
        this._replace(known, note);
      }
      return false;
    }
    let anchor = atTop ? this._list.firstChild : this._sentinel ?? null;
    if (sorted) {
      const at = Date.parse(note.createdAt);
      const after = this._rows().find((row) => {
        const other = this._items.get(row.dataset.id).note;
        const otherAt = Date.parse(other.createdAt);
        return otherAt < at || (otherAt === at && other.id < note.id);
      });
      if (!after && this._cursor !== null) return false; // older than what is loaded
      anchor = after ?? this._sentinel ?? null;
    }
    const li = document.createElement("li");
    li.dataset.id = note.id;
    li.tabIndex = -1;
    li.innerHTML = `<span class="dot" aria-hidden="true"></span><div class="body">
      <div class="message"></div><time></time></div>`;
    li.querySelector(".message").textContent = note.message;
    const time = li.querySelector("time");
    time.dateTime = note.createdAt;
    time.textContent = new Date(note.createdAt).toLocaleString();
    const item = { note, li, read, seen };
    if (!read) {
      li.append(this._readButton(note));
      li.classList.add("unread");
    }
    li.append(this._archiveButton(note));
    this._list.insertBefore(li, anchor);
    this._items.set(note.id, item);
    this._empty.hidden = true;
    this._markAll.disabled = false;
    this._syncLabels(item);
    return true;
  }

  _setRead(item) {
    item.read = true;
    item.seen = true;
    item.li.classList.remove("unread");
    item.li.querySelector("button[data-read]")?.remove();
    this._syncLabels(item);
  }

  _syncLabels(item) {
    item.li.setAttribute("aria-label", `${item.read ? "" : "Unread: "}${item.note.message}`);
  }

  _showCount() {
    this._badge.textContent = this.unseen > 99 ? "99+" : String(this.unseen);
    this._badge.hidden = this.unseen === 0;
    this._bell.setAttribute("aria-label", `Notifications, ${this.unseen} new, ${this.unread} unread`);
  }

  _scheduleCount() {
    clearTimeout(this._countTimer);
    this._countTimer = setTimeout(() => this._refreshCount(), 1000);
  }

  async _refreshCount() {
    if (!this.api || !this.user) return;
    try {
      const counts = await this.api.counts(this.user);
      // at least as new as its seq: shown unless a newer state came meanwhile
      if (counts.seq < this._seq) return;
      this._seq = counts.seq;
      this.unseen = counts.unseen;
      this.unread = counts.unread;
      this._showCount();
    } catch {
      // the count stays as counted locally; the next arrival asks again
    }
  }

  // --- preferences ----------------------------------------------------------------------------
  /** Open (or close) the preferences form; opening reads the user's preferences and profile. */
  async togglePreferences(open = this._prefs.hidden) {
    this._prefs.hidden = !open;
    this._prefsButton.setAttribute("aria-expanded", String(open));
    if (!open) {
      this._prefsButton.focus();
      return;
    }
    if (this._panel.hidden) this._setOpen(true);
    await this.loadPreferences();
    this._prefs.querySelector("input:not([disabled])")?.focus();
  }

  /** Reads the user's preferences and profile into the form. */
  async loadPreferences() {
    if (!this.api || !this.user) return;
    this._prefsMessage("loading…");
    try {
      const [prefs, profile] = await Promise.all([this.api.getPreferences(this.user), this.api.getProfile(this.user)]);
      this._profile = profile;
      this._showPreferences(prefs, profile);
      this._prefsMessage("");
    } catch (error) {
      this._prefsMessage(`Could not load preferences: ${error.message}`, true);
    }
  }

  _showPreferences(prefs, profile) {
    const rows = Object.entries(prefs.types).map(([name, pref]) => {
      const label = document.createElement("label");
      const box = document.createElement("input");
      box.type = "checkbox";
      box.dataset.type = name;
      box.checked = pref.enabled;
      box.disabled = pref.transactional; // always on
      label.append(box, document.createTextNode(name));
      if (pref.transactional) {
        const note = document.createElement("span");
        note.className = "note";
        note.textContent = "(always on)";
        label.append(" ", note);
      }
      return label;
    });
    this._prefs.querySelector(".types").replaceChildren(...rows);
    const quiet = prefs.quietHours;
    this._prefs.querySelector(".quiet-on").checked = quiet != null;
    if (quiet) {
      this._prefs.querySelector(".quiet-start").value = quiet.start;
      this._prefs.querySelector(".quiet-end").value = quiet.end;
    }
    this._prefs.querySelector(".time-zone").value = profile.timeZone ?? localZone();
    this._syncQuiet();
  }

  _syncQuiet() {
    const on = this._prefs.querySelector(".quiet-on").checked;
    for (const input of this._prefs.querySelectorAll(".quiet-start, .quiet-end")) input.disabled = !on;
  }

  /** Saves the form: the types' choices and quiet hours, and the time zone if it changed. */
  async savePreferences() {
    const types = {};
    for (const box of this._prefs.querySelectorAll("input[data-type]")) {
      if (!box.disabled) types[box.dataset.type] = box.checked;
    }
    const quietHours = this._prefs.querySelector(".quiet-on").checked
      ? { start: this._prefs.querySelector(".quiet-start").value, end: this._prefs.querySelector(".quiet-end").value }
      : null;
    const timeZone = this._prefs.querySelector(".time-zone").value.trim() || null;
    this._prefsMessage("saving…");
    try {
      const profile = this._profile ?? { locale: null, timeZone: null };
      if (timeZone !== profile.timeZone && (timeZone !== null || profile.timeZone !== null)) {
        this._profile = await this.api.setProfile(this.user, { locale: profile.locale, timeZone });
      }
      const saved = await this.api.setPreferences(this.user, { types, quietHours });
      this._showPreferences(saved, this._profile ?? profile);
      this._prefsMessage("Saved");
      this._announce("Preferences saved");
      this.dispatchEvent(new CustomEvent("herald-preferences", { detail: saved }));
    } catch (error) {
      const detail = error.body?.details?.[0];
      this._prefsMessage(`Not saved: ${detail ? `${detail.field}: ${detail.message}` : error.message}`, true);
    }
  }

  _prefsMessage(text, error = false) {
    this._prefsStatus.textContent = text;
    this._prefsStatus.toggleAttribute("data-error", error);
  }

  _showState(state, detail) {
    this._stateEl.dataset.state = state;
    this._stateEl.textContent = detail ?? { open: "live", connecting: "connecting…", reconnecting: "reconnecting…", closed: "disconnected", idle: "not connected" }[state] ?? state;
    this.dispatchEvent(new CustomEvent("herald-state", { detail: state }));
  }

  _announce(text) {
    this._live.textContent = "";
    setTimeout(() => {
      this._live.textContent = text;
    }, 30);
  }

  _rows() {
    return [...this._list.querySelectorAll("li[data-id]")];
  }

  _focusFirst() {
    const first = this._rows()[0];
    if (first) {
      this._rows().forEach((row) => (row.tabIndex = -1));
      first.tabIndex = 0;
    }
  }

  _onKey(event) {
    if (event.key === "Escape" && !this._prefs.hidden && event.composedPath().includes(this._prefs)) {
      this.togglePreferences(false);
      return;
    }
    if (event.composedPath().includes(this._prefs)) return; // the form's own keys
    if (event.key === "Escape") {
      this._setOpen(false);
      this._bell.focus();
      return;
    }
    const rows = this._rows();
    const at = rows.indexOf(this.shadowRoot.activeElement?.closest?.("li"));
    let next = -1;
    if (event.key === "ArrowDown") next = Math.min(rows.length - 1, at + 1);
    else if (event.key === "ArrowUp") next = Math.max(0, at - 1);
    else if (event.key === "Home") next = 0;
    else if (event.key === "End") next = rows.length - 1;
    else if (event.key === "Enter" && at >= 0 && event.composedPath()[0] === rows[at]) this.markRead(rows[at].dataset.id);
    if (next >= 0 && rows[next]) {
      event.preventDefault();
      rows.forEach((row) => (row.tabIndex = -1));
      rows[next].tabIndex = 0;
      rows[next].focus();
      if (next >= rows.length - 3) this.loadMore();
    }
  }
}

if (!customElements.get("herald-inbox")) customElements.define("herald-inbox", HeraldInbox);
