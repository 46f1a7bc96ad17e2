// Compiled (not run) by `npm test` (tsc --noEmit): the hand-written .d.ts files describe the
// API as the README shows it.
import { connect, HeraldClient, ReadApi, Backoff, afterClose, CLOSE, isNewer, versionOf, type Notification, type Page, type Preferences, type Profile, type InboxState, type MarkOk, type InboxCounts } from "../../herald.js";
import { HeraldInbox } from "../../herald-inbox.js";

const client: HeraldClient = connect(["ws://a/ws", "ws://b/ws"], {
  getToken: async () => "jwt", autoAck: false, ackDelay: 5, ackBatch: 50, backoff: { base: 100, cap: 5000 },
});
const off = client.on("notification", (n: Notification, info) => {
  const replayed: boolean = info.replayed;
  client.ack(n.id);
  void replayed;
});
off();
client.on("update", (n: Notification) => {
  const shown: Notification = { ...n, version: 1 };
  if (isNewer(shown, n)) console.log(n.message, n.count, n.actors?.[0], versionOf(n));
});
client.on("state", (s) => s satisfies "idle" | "connecting" | "open" | "reconnecting" | "closed");
client.on("error", (e) => console.log(e.code, e.message, e.fatal));
client.on("close", ({ code, action }) => console.log(code, action));
const action: "reconnect" | "refresh" | "stop" = afterClose(CLOSE.AUTH_FAILED, true);
const delay: number = new Backoff({ cap: 1000 }).next();
connect((attempt) => `ws://g${attempt}/ws`, { userId: "bob", tenantId: "acme" });

async function reads(api: ReadApi): Promise<number> {
  for await (const page of api.pages("bob", { limit: 20 })) {
    const p: Page = page;
    console.log(p.nextCursor, p.notifications[0]?.readAt);
  }
  for await (const n of api.history("bob")) console.log(n.status);
  await api.markRead("n1");
  return (await api.unreadCount("bob")) + (await api.markAllRead("bob"));
}
void reads(new ReadApi("", { token: "jwt" }));

async function settings(api: ReadApi): Promise<string | null> {
  const prefs: Preferences = await api.getPreferences("bob");
  const on: boolean = prefs.types["task.assigned"]?.enabled ?? true;
  await api.setPreferences("bob", { types: { LIKE: !on }, quietHours: { start: "22:00", end: "07:00" } });
  await api.setPreferences({ types: {}, quietHours: null });
  const profile: Profile = await api.setProfile({ locale: "de-AT", timeZone: "Europe/Vienna" });
  await api.setProfile("bob", { timeZone: null });
  return profile.timeZone ?? (await api.getProfile()).locale;
}
void settings(new ReadApi("", { token: "jwt", userId: "bob" }));
const tenantType: Notification["type"] = "task.assigned";
void tenantType;

const inbox = document.querySelector("herald-inbox");
if (inbox) {
  const typed: HeraldInbox = inbox;
  typed.start({ gateway: "ws://a/ws", user: "bob", token: "jwt" });
  typed.addEventListener("herald-notification", (e) => console.log(e.detail.message));
  typed.addEventListener("herald-preferences", (e) => console.log(e.detail.types["LIKE"]?.enabled));
  void typed.togglePreferences(true).then(() => typed.savePreferences());
}
void action;
void delay;

async function marks(c: HeraldClient, api: ReadApi): Promise<number> {
  c.on("inbox", (s: InboxState) => console.log(s.seq, s.unseen, s.unread, s.all, s.at));
  const ok: MarkOk = await c.mark("read", ["n1", "n2"]);
  await c.markAll("seen");
  const counts: InboxCounts = await api.counts("bob");
  await api.mark("bob", "archived", ["n1"]);
  await api.markAll("unarchived");
  return ok.seq + counts.unseen + c.inbox.seq;
}
void marks;
