// The client against a fake socket: AUTH, dedup across reconnects, batched ACKs, TRY_AGAIN,
// close codes (4003 refresh, 1008/1009 stop, 4029 back off), several URLs.
import { test, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { connect, HeraldClient } from "../herald.js";
import { FakeSocket, note, tick, until } from "./fake-socket.js";

const fast = { base: 1, cap: 5 };
beforeEach(() => FakeSocket.reset());

function open(socket, pending = 0) {
  socket.serverOpen();
  socket.serverSend({ type: "AUTH_OK", userId: "bob", tenantId: "default", pending });
}

test("sends AUTH first, delivers each notification once across a reconnect, acks all", async () => {
  const client = connect("ws://gw/ws", { token: "jwt", autoAck: true, WebSocket: FakeSocket, backoff: fast });
  const shown = [];
  client.on("notification", (n) => shown.push(n.id));
  await until(() => FakeSocket.sockets.length === 1);
  const first = FakeSocket.last();
  open(first);
  assert.deepEqual(first.sent[0], { type: "AUTH", token: "jwt" });
  first.serverSend({ type: "NOTIFICATION", notification: note("a") });
  first.serverSend({ type: "NOTIFICATION", notification: note("b") });
  await until(() => first.acks().length === 2);
  assert.equal(first.sent.filter((f) => f.type === "ACK").length, 1, "one batched frame");
  first.serverSend({ type: "ACK_OK", notificationIds: ["a"], unknown: [] });
  first.serverClose(1006); // dropped before b's ACK_OK

  await until(() => FakeSocket.sockets.length === 2);
  const second = FakeSocket.last();
  open(second, 2);
  await until(() => second.acks().includes("b"));
  second.serverSend({ type: "NOTIFICATION", notification: note("b") }); // replay
  second.serverSend({ type: "NOTIFICATION", notification: note("c") });
  await until(() => second.acks().includes("c"));
  assert.deepEqual(shown, ["a", "b", "c"]);
  second.serverSend({ type: "ACK_OK", notificationIds: ["b", "c"], unknown: [] });
  assert.equal(client.ledger.owed.size, 0);
  assert.equal(client.stats.connects, 2);
  await client.close();
  assert.equal(client.state, "closed");
});

test("ACKs wait ackDelay ms to share a frame, or go at once at ackBatch ids", async () => {
  const client = connect("ws://gw/ws", { token: "t", WebSocket: FakeSocket, ackDelay: 30, ackBatch: 3 });
  await until(() => FakeSocket.sockets.length === 1);
  const ws = FakeSocket.last();
  open(ws);
  await tick(5); // the flush AUTH_OK schedules has run
  client.ack("a");
  client.ack("b");
  await tick(5);
  assert.deepEqual(ws.acks(), []);
  await until(() => ws.acks().length === 2);
  client.ack("c", "d", "e");
  await tick(1);
  assert.deepEqual(ws.acks(), ["a", "b", "c", "d", "e"]);
  await client.close();
});

test("TRY_AGAIN makes the client send those ids again", async () => {
  const client = connect("ws://gw/ws", { token: "t", WebSocket: FakeSocket });
  await until(() => FakeSocket.sockets.length === 1);
  const ws = FakeSocket.last();
  open(ws);
  client.ack("a", "b");
  await until(() => ws.acks().length === 2);
  ws.serverSend({ type: "ERROR", code: "TRY_AGAIN", message: "redis", notificationIds: ["a", "b"] });
  await until(() => ws.acks().length === 4, 1000);
  assert.deepEqual(ws.acks(), ["a", "b", "a", "b"]);
  assert.equal(client.stats.ackRetries, 1);
  await client.close();
});

test("4003 asks getToken again and reconnects", async () => {
  let calls = 0;
  const client = connect("ws://gw/ws", { getToken: async () => `t${++calls}`, WebSocket: FakeSocket, backoff: fast });
  const errors = [];
  client.on("error", (e) => errors.push(e));
  await until(() => FakeSocket.sockets.length === 1);
  FakeSocket.last().serverOpen();
  FakeSocket.last().serverClose(4003, "token expired");
  await until(() => FakeSocket.sockets.length === 2);
  FakeSocket.last().serverOpen();
  assert.deepEqual(FakeSocket.last().sent[0], { type: "AUTH", token: "t2" });
  assert.equal(errors[0].code, 4003);
  assert.equal(errors[0].fatal, false);
  await client.close();
});

for (const [code, options] of [[1008, {}], [1009, {}], [4001, {}], [4003, { token: "fixed" }]]) {
  test(`close ${code} stops without a loop`, async () => {
    const client = connect("ws://gw/ws", { token: "t", ...options, WebSocket: FakeSocket, backoff: fast });
    const errors = [];
    client.on("error", (e) => errors.push(e));
    await until(() => FakeSocket.sockets.length === 1);
    FakeSocket.last().serverOpen();
    FakeSocket.last().serverClose(code, "no");
    await until(() => client.state === "closed");
    await tick(30);
    assert.equal(FakeSocket.sockets.length, 1, "no reconnect");
    assert.equal(client.error.code, code);
    assert.deepEqual(errors.map((e) => e.fatal), [true]);
    await assert.rejects(client.waitOpen(50));
  });
}

test("4029 backs off (with growing ceilings) and then reconnects", async () => {
  const delays = [];
  const client = new HeraldClient("ws://gw/ws", { token: "t", WebSocket: FakeSocket, backoff: { base: 10, cap: 40, random: () => 1 } });
  const next = client.backoff.next.bind(client.backoff);
  client.backoff.next = () => {
    const d = next();
    delays.push(d);
    return d;
  };
  client.start();
  for (let n = 1; n <= 3; n++) {
    await until(() => FakeSocket.sockets.length === n);
    FakeSocket.last().serverOpen();
    FakeSocket.last().serverClose(4029, "too many");
  }
  await until(() => FakeSocket.sockets.length === 4);
  assert.deepEqual(delays, [10, 20, 40]);
  open(FakeSocket.last());
  assert.equal(client.backoff.attempts, 0, "reset after AUTH_OK");
  await client.close();
});

test("a list of URLs is tried in turn; a function may choose", async () => {
  const client = connect(["ws://a/ws", "ws://b/ws"], { token: "t", WebSocket: FakeSocket, backoff: fast });
  await until(() => FakeSocket.sockets.length === 1);
  FakeSocket.last().serverClose(1006);
  await until(() => FakeSocket.sockets.length === 2);
  FakeSocket.last().serverClose(1001);
  await until(() => FakeSocket.sockets.length === 3);
  assert.deepEqual(FakeSocket.sockets.map((s) => s.url), ["ws://a/ws", "ws://b/ws", "ws://a/ws"]);
  await client.close();

  FakeSocket.reset();
  const picked = connect((n) => `ws://g${n}/ws`, { userId: "bob", tenantId: "acme", WebSocket: FakeSocket });
  await until(() => FakeSocket.sockets.length === 1);
  FakeSocket.last().serverOpen();
  assert.equal(FakeSocket.last().url, "ws://g0/ws");
  assert.deepEqual(FakeSocket.last().sent[0], { type: "AUTH", userId: "bob", tenantId: "acme" });
  await picked.close();
});

test("bad options are refused at once", () => {
  assert.throws(() => new HeraldClient("ws://gw/ws", { WebSocket: FakeSocket }), /token/);
  assert.throws(() => new HeraldClient([], { token: "t", WebSocket: FakeSocket }), /url/);
  assert.throws(() => new HeraldClient("ws://gw/ws", { token: "t", WebSocket: null }), /WebSocket/);
});

test("close() sends the ACKs still owed before closing", async () => {
  const client = connect("ws://gw/ws", { token: "t", WebSocket: FakeSocket, ackDelay: 1000 });
  await until(() => FakeSocket.sockets.length === 1);
  const ws = FakeSocket.last();
  open(ws);
  client.ack("x");
  await client.close();
  assert.deepEqual(ws.acks(), ["x"]);
});

test("a digest's update: the same id replaced in order, never an older version after a newer", async () => {
  const client = connect("ws://gw/ws", { token: "t", autoAck: true, WebSocket: FakeSocket, backoff: fast });
  const shown = [];
  client.on("notification", (n) => shown.push(["notification", n.id, n.version ?? 1]));
  client.on("update", (n) => shown.push(["update", n.id, n.version]));
  await until(() => FakeSocket.sockets.length === 1);
  const ws = FakeSocket.last();
  open(ws);
  const digest = (version) => ({ ...note("d"), message: `m${version}`, count: version, actors: ["a"], version });
  ws.serverSend({ type: "NOTIFICATION", notification: digest(1) });
  ws.serverSend({ type: "NOTIFICATION_UPDATE", notification: digest(3) });
  ws.serverSend({ type: "NOTIFICATION_UPDATE", notification: digest(2) }); // late: ignored
  ws.serverSend({ type: "NOTIFICATION_UPDATE", notification: { ...note("h"), version: 4 } }); // known only from history
  await until(() => ws.acks().includes("h"));
  assert.deepEqual(shown, [["notification", "d", 1], ["update", "d", 3], ["update", "h", 4]]);
  assert.equal(client.stats.updates, 2);
  ws.serverClose(1006);
  // a reconnect replays the latest body as a NOTIFICATION: an update for the app, once
  await until(() => FakeSocket.sockets.length === 2);
  const again = FakeSocket.last();
  open(again, 1);
  again.serverSend({ type: "NOTIFICATION", notification: digest(5) });
  again.serverSend({ type: "NOTIFICATION", notification: digest(5) });
  await until(() => shown.length === 4);
  assert.deepEqual(shown[3], ["update", "d", 5]);
  await client.close();
});

test("marks: MARK / MARK_ALL answered in order by MARK_OK, bad or failed ones rejected", async () => {
  const client = connect("ws://gw/ws", { token: "t", WebSocket: FakeSocket, backoff: fast });
  await assert.rejects(client.mark("read", ["a"]), /not connected/);
  await until(() => FakeSocket.sockets.length === 1);
  const ws = FakeSocket.last();
  open(ws);
  await assert.rejects(client.mark("loved", ["a"]), TypeError);
  await assert.rejects(client.markAll("loved"), TypeError);
  const read = client.mark("read", ["a", "b", "a"]);
  const all = client.markAll("seen");
  const failed = client.mark("archived", "c");
  const marks = ws.sent.filter((f) => f.type.startsWith("MARK"));
  assert.deepEqual(marks, [
    { type: "MARK", mark: "read", notificationIds: ["a", "b"] },
    { type: "MARK_ALL", mark: "seen" },
    { type: "MARK", mark: "archived", notificationIds: ["c"] },
  ]);
  ws.serverSend({ type: "MARK_OK", mark: "read", all: false, notificationIds: ["a"], unknown: ["b"], changed: 1, seq: 4 });
  ws.serverSend({ type: "MARK_OK", mark: "seen", all: true, notificationIds: null, unknown: [], changed: 7, seq: 5 });
  ws.serverSend({ type: "ERROR", code: "TRY_AGAIN", message: "later", mark: "archived", notificationIds: ["c"] });
  assert.deepEqual(await read, { type: "MARK_OK", mark: "read", all: false, notificationIds: ["a"], unknown: ["b"], changed: 1, seq: 4 });
  assert.equal((await all).changed, 7);
  await assert.rejects(failed, /TRY_AGAIN/);
  const lost = client.mark("seen", ["d"]);
  ws.serverClose(1006);
  await assert.rejects(lost, /connection ended/);
  await client.close();
});

test("more than MAX_MARK_IDS ids go in several frames with one merged answer", async () => {
  const client = connect("ws://gw/ws", { token: "t", WebSocket: FakeSocket });
  await until(() => FakeSocket.sockets.length === 1);
  const ws = FakeSocket.last();
  open(ws);
  const ids = Array.from({ length: 501 }, (_, i) => `n${i}`);
  const done = client.mark("read", ids);
  await until(() => ws.sent.filter((f) => f.type === "MARK").length === 1);
  ws.serverSend({ type: "MARK_OK", mark: "read", all: false, notificationIds: ids.slice(0, 500), unknown: [], changed: 500, seq: 1 });
  await until(() => ws.sent.filter((f) => f.type === "MARK").length === 2);
  assert.deepEqual(ws.sent.filter((f) => f.type === "MARK")[1].notificationIds, ["n500"]);
  ws.serverSend({ type: "MARK_OK", mark: "read", all: false, notificationIds: [], unknown: ["n500"], changed: 0, seq: 2 });
  const answer = await done;
  assert.equal(answer.notificationIds.length, 500);
  assert.deepEqual([answer.unknown, answer.changed, answer.seq], [["n500"], 500, 2]);
  await client.close();
});

test("inbox states: only a seq above the last emitted one is shown, across reconnects", async () => {
  const client = connect("ws://gw/ws", { token: "t", WebSocket: FakeSocket, backoff: fast });
  const shown = [];
  client.on("inbox", (s) => shown.push([s.seq, s.unseen, s.unread]));
  await until(() => FakeSocket.sockets.length === 1);
  const ws = FakeSocket.last();
  open(ws);
  const state = (seq, unseen, unread) => ({ type: "INBOX_STATE", seq, mark: "seen", notificationIds: null, all: true, at: "2026-01-01T00:00:00.000Z", unseen, unread });
  ws.serverSend(state(3, 2, 5));
  ws.serverSend(state(2, 9, 9)); // older: crossed on the way (another gateway, the read API)
  ws.serverSend(state(3, 9, 9)); // the same seq again
  ws.serverSend(state(5, 0, 4));
  ws.serverClose(1006);
  await until(() => FakeSocket.sockets.length === 2);
  const again = FakeSocket.last();
  open(again);
  again.serverSend(state(4, 1, 1));
  again.serverSend(state(6, 0, 3));
  assert.deepEqual(shown, [[3, 2, 5], [5, 0, 4], [6, 0, 3]]);
  assert.equal(client.inbox.seq, 6);
  assert.equal("type" in client.inbox.state, true);
  await client.close();
});
