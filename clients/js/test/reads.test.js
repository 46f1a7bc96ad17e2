// The read API helpers against a fake fetch: paths, credentials, paging by cursor, errors.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ReadApi, HeraldHttpError } from "../herald.js";

function fakeFetch(routes) {
  const calls = [];
  const fetch = async (url, init) => {
    const sent = init.body === undefined ? undefined : JSON.parse(init.body);
    calls.push({ url, method: init.method, auth: init.headers.Authorization, type: init.headers["Content-Type"], body: sent });
    const { pathname, searchParams } = new URL(url);
    const [status, body] = routes(init.method, pathname, searchParams, sent);
    return { ok: status < 300, status, json: async () => body };
  };
  return { fetch, calls };
}

test("history follows nextCursor page by page", async () => {
  const pages = { "": ["n5", "n4"], c2: ["n3", "n2"], c3: ["n1"] };
  const next = { "": "c2", c2: "c3", c3: null };
  const { fetch, calls } = fakeFetch((method, path, query) => {
    const cursor = query.get("cursor") ?? "";
    return [200, { notifications: pages[cursor].map((id) => ({ id })), nextCursor: next[cursor], hasMore: next[cursor] != null }];
  });
  const api = new ReadApi("http://p/", { token: "jwt", fetch });
  const seen = [];
  for await (const n of api.history("bob", { limit: 2 })) seen.push(n.id);
  assert.deepEqual(seen, ["n5", "n4", "n3", "n2", "n1"]);
  assert.equal(calls.length, 3);
  assert.equal(calls[0].url, "http://p/v1/users/bob/notifications?limit=2");
  assert.equal(calls[1].url, "http://p/v1/users/bob/notifications?limit=2&cursor=c2");
  assert.ok(calls.every((c) => c.auth === "Bearer jwt"));
});

test("unread count, mark read, mark all read", async () => {
  const { fetch, calls } = fakeFetch((method, path) => {
    if (path.endsWith("/unread-count")) return [200, { userId: "bob", tenantId: "default", unread: 7 }];
    if (path.endsWith("/read-all")) return [200, { userId: "bob", tenantId: "default", marked: 7 }];
    return [200, { notificationId: "n 1", read: true }];
  });
  const api = new ReadApi("http://p", { apiKey: "key", tenantId: "acme", fetch });
  assert.equal(await api.unreadCount("bob"), 7);
  await api.markRead("n 1", { userId: "bob" });
  assert.equal(await api.markAllRead("bob"), 7);
  assert.deepEqual(calls.map((c) => `${c.method} ${c.url}`), [
    "GET http://p/v1/users/bob/notifications/unread-count?tenantId=acme",
    "POST http://p/v1/notifications/n%201/read?userId=bob&tenantId=acme",
    "POST http://p/v1/users/bob/notifications/read-all?tenantId=acme",
  ]);
});

test("an error answer raises HeraldHttpError with Herald's body", async () => {
  const { fetch } = fakeFetch(() => [403, { error: "forbidden", message: "a token reads only its own notifications" }]);
  const api = new ReadApi("http://p", { getToken: async () => "t", fetch });
  await assert.rejects(api.unreadCount("carol"), (err) => err instanceof HeraldHttpError && err.status === 403 && err.body.error === "forbidden");
});

test("preferences: read and set with the user's token, both parts sent", async () => {
  const stored = { userId: "bob", tenantId: "acme", types: { LIKE: { enabled: true, transactional: false, default: true } }, quietHours: null };
  const { fetch, calls } = fakeFetch((method, path, query, body) => {
    if (method === "PUT") {
      stored.types.LIKE.enabled = body.types.LIKE ?? true;
      stored.quietHours = body.quietHours;
    }
    return [200, stored];
  });
  const api = new ReadApi("http://p", { token: "jwt", fetch });
  assert.equal((await api.getPreferences("bob")).types.LIKE.enabled, true);
  const set = await api.setPreferences("bob", { types: { LIKE: false }, quietHours: { start: "22:00", end: "07:00" } });
  assert.equal(set.types.LIKE.enabled, false);
  await api.setPreferences("bob", { types: { LIKE: false } });
  assert.deepEqual(calls.map((c) => [c.method, c.url, c.auth, c.type, c.body]), [
    ["GET", "http://p/v1/users/bob/preferences", "Bearer jwt", undefined, undefined],
    ["PUT", "http://p/v1/users/bob/preferences", "Bearer jwt", "application/json",
      { types: { LIKE: false }, quietHours: { start: "22:00", end: "07:00" } }],
    // quiet hours left out: none (PUT replaces both parts)
    ["PUT", "http://p/v1/users/bob/preferences", "Bearer jwt", "application/json", { types: { LIKE: false }, quietHours: null }],
  ]);
});

test("profile: read and set; the user from options.userId when left out", async () => {
  const { fetch, calls } = fakeFetch((method, path, query, body) =>
    [200, { userId: "bob user", tenantId: "acme", locale: body?.locale ?? null, timeZone: body?.timeZone ?? null }]);
  const api = new ReadApi("http://p", { getToken: async () => "fresh", userId: "bob user", fetch });
  assert.equal((await api.getProfile()).locale, null);
  const set = await api.setProfile({ locale: "de-AT", timeZone: "Europe/Vienna" });
  assert.deepEqual([set.locale, set.timeZone], ["de-AT", "Europe/Vienna"]);
  await api.setProfile("carol", { timeZone: "UTC" });
  await api.getPreferences();
  await api.setPreferences({ types: {} });
  assert.deepEqual(calls.map((c) => [c.method, c.url, c.body]), [
    ["GET", "http://p/v1/users/bob%20user/profile", undefined],
    ["PUT", "http://p/v1/users/bob%20user/profile", { locale: "de-AT", timeZone: "Europe/Vienna" }],
    ["PUT", "http://p/v1/users/carol/profile", { locale: null, timeZone: "UTC" }],
    ["GET", "http://p/v1/users/bob%20user/preferences", undefined],
    ["PUT", "http://p/v1/users/bob%20user/preferences", { types: {}, quietHours: null }],
  ]);
  assert.ok(calls.every((c) => c.url.startsWith("http://p/") && calls[0].auth === "Bearer fresh"));
});

test("settings without a user are rejected before any call; a 422 is a HeraldHttpError", async () => {
  const { fetch, calls } = fakeFetch(() => [422, { error: "unknown_type", message: "unknown event type 'x'", details: [{ field: "types.x", message: "no such event type in this tenant" }] }]);
  const api = new ReadApi("http://p", { token: "jwt", fetch });
  await assert.rejects(api.getPreferences(), TypeError);
  await assert.rejects(api.setProfile({ locale: "en" }), TypeError);
  assert.equal(calls.length, 0);
  await assert.rejects(api.setPreferences("bob", { types: { x: true } }),
    (err) => err instanceof HeraldHttpError && err.status === 422 && err.body.details[0].field === "types.x");
});
