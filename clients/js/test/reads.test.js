// The read API helpers against a fake fetch: paths, credentials, paging by cursor, errors.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ReadApi, HeraldHttpError } from "../herald.js";

function fakeFetch(routes) {
  const calls = [];
  const fetch = async (url, init) => {
    calls.push({ url, method: init.method, auth: init.headers.Authorization });
    const { pathname, searchParams } = new URL(url);
    const [status, body] = routes(init.method, pathname, searchParams);
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
