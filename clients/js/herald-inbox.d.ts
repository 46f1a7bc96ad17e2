// Types of herald-inbox.js (hand-written).
import type { ConnectionState, HeraldClient, Notification, Preferences, ReadApi, UrlSource, WebSocketConstructor } from "./herald.js";

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
  start(options: InboxStartOptions): HeraldClient;
  toggle(): void;
  loadMore(): Promise<void>;
  markRead(id: string): Promise<void>;
  markAllRead(): Promise<void>;
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
    "herald-preferences": CustomEvent<Preferences>;
  }
}
