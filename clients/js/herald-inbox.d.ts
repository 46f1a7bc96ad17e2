// Types of herald-inbox.js (hand-written).
import type { ConnectionState, HeraldClient, InboxState, Notification, Preferences, ReadApi, UrlSource, WebSocketConstructor } from "./herald.js";

export interface InboxStartOptions {
  gateway: UrlSource;
  /** The producer's base URL (default: this page's origin). */
  api?: string;
  user?: string;
  token?: string;
  getToken?: () => string | Promise<string>;
  /** Trusted mode only. */
  tenant?: string;
  WebSocket?: WebSocketConstructor;
}

export declare class HeraldInbox extends HTMLElement {
  client?: HeraldClient;
  api?: ReadApi;
  user?: string;
  unread: number;
  /** The badge: notifications not seen. */
  unseen: number;
  start(options: InboxStartOptions): HeraldClient;
  toggle(): void;
  loadMore(): Promise<void>;
  markRead(id: string): Promise<void>;
  markAllRead(): Promise<void>;
  /** What opening the bell does: everything that exists now is seen. */
  markAllSeen(): Promise<void>;
  /** Archive one: it leaves the list (the history's ?archived=true keeps it). */
  archive(id: string): Promise<void>;
  /** Opens (true), closes (false) or toggles the preferences form; opening reads them. */
  togglePreferences(open?: boolean): Promise<void>;
  loadPreferences(): Promise<void>;
  /** Saves the form (types, quiet hours; the profile's time zone if changed). */
  savePreferences(): Promise<void>;
}

declare global {
  interface HTMLElementTagNameMap {
    "herald-inbox": HeraldInbox;
  }
  interface HTMLElementEventMap {
    "herald-notification": CustomEvent<Notification>;
    "herald-update": CustomEvent<Notification>;
    "herald-state": CustomEvent<ConnectionState>;
    "herald-inbox-state": CustomEvent<InboxState>;
    "herald-preferences": CustomEvent<Preferences>;
  }
}
