// Dedup of replays and owed ACKs (pure): the Python client's ledger semantics.
import { test } from "node:test";
import assert from "node:assert/strict";
import { isNewer, Ledger, versionOf } from "../herald.js";

test("a replay is skipped until acked, then re-acked", () => {
  const ledger = new Ledger();
  assert.equal(ledger.onNotification("a"), "deliver");
  assert.equal(ledger.onNotification("a"), "skip");
  ledger.ack(["a"]);
  assert.deepEqual(ledger.takeUnsent(10), ["a"]);
  assert.equal(ledger.onNotification("a"), "reack");
  assert.deepEqual(ledger.takeUnsent(10), ["a"]);
  assert.equal(ledger.duplicates, 2);
});

test("owed ACKs stay owed until ACK_OK, are resent on TRY_AGAIN and on reconnect", () => {
  const ledger = new Ledger();
  ledger.ack(["a", "b", "c"]);
  assert.deepEqual(ledger.takeUnsent(2), ["a", "b"]);
  assert.deepEqual(ledger.takeUnsent(2), ["c"]);
  assert.deepEqual(ledger.takeUnsent(2), []);
  ledger.onTryAgain(["b", "zzz"]);
  assert.deepEqual(ledger.takeUnsent(10), ["b"]);
  ledger.onAckOk(["a"], ["c"]);
  assert.deepEqual([...ledger.owed], ["b"]);
  ledger.onReconnect();
  assert.deepEqual(ledger.takeUnsent(10), ["b"]);
  ledger.onAckOk(["b"], []);
  ledger.onReconnect();
  assert.deepEqual(ledger.takeUnsent(10), []);
});

test("memory is bounded: the least recently seen id is forgotten first", () => {
  const ledger = new Ledger(3);
  for (const id of ["a", "b", "c"]) ledger.onNotification(id);
  ledger.onNotification("a"); // seen again: now the most recent
  ledger.onNotification("d"); // forgets b
  assert.equal(ledger.seen.size, 3);
  assert.equal(ledger.onNotification("a"), "skip");
  assert.equal(ledger.onNotification("b"), "deliver");
  for (let n = 0; n < 10_000; n++) ledger.onNotification(`x${n}`);
  assert.equal(ledger.seen.size, 3);
});

test("a higher version of a seen id is an update; an older or equal one is not", () => {
  const ledger = new Ledger();
  assert.equal(ledger.onNotification("d", 1), "deliver");
  assert.equal(ledger.onNotification("d", 3), "update");
  assert.equal(ledger.onNotification("d", 2), "skip", "older: never over a newer one");
  assert.equal(ledger.onNotification("d", 3), "skip");
  ledger.ack(["d"]);
  assert.equal(ledger.onNotification("d", 3), "reack");
  assert.equal(ledger.onNotification("d", 4), "update");
  assert.equal(ledger.duplicates, 3);
  assert.equal(ledger.onNotification("n", 5), "deliver", "first seen: a delivery, whatever its version");
  assert.equal(ledger.onNotification("n", 5), "skip");
});

test("isNewer orders versions; a notification without one is version 1", () => {
  assert.equal(isNewer({}, { version: 2 }), true);
  assert.equal(isNewer({ version: 2 }, { version: 2 }), false);
  assert.equal(isNewer({ version: 3 }, { version: 2 }), false);
  assert.equal(isNewer({ version: 2 }, {}), false);
  assert.equal(versionOf({ version: "7" }), 1);
});
