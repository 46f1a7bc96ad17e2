// Close codes -> actions, and the backoff's bounds (pure).
import { test } from "node:test";
import assert from "node:assert/strict";
import { afterClose, Backoff, CLOSE } from "../herald.js";

test("each close code gets the README's action", () => {
  for (const code of [1001, 1011, 1013, 4002, 4029, 1000, null, undefined]) {
    assert.equal(afterClose(code, false), "reconnect", `code ${code}`);
  }
  for (const code of [1007, 1008, 1009, 4001]) {
    assert.equal(afterClose(code, true), "stop", `code ${code}`);
  }
  assert.equal(afterClose(CLOSE.AUTH_FAILED, true), "refresh");
  assert.equal(afterClose(CLOSE.AUTH_FAILED, false), "stop");
});

test("backoff is full jitter under an exponential ceiling and a cap", () => {
  const top = new Backoff({ base: 100, cap: 1000, random: () => 0.999999 });
  const ceilings = Array.from({ length: 8 }, () => Math.round(top.next()));
  assert.deepEqual(ceilings, [100, 200, 400, 800, 1000, 1000, 1000, 1000]);
  const bottom = new Backoff({ base: 100, cap: 1000, random: () => 0 });
  assert.equal(bottom.next(), 0);
  top.reset();
  assert.equal(top.attempts, 0);
  assert.ok(top.next() <= 100);
  const real = new Backoff({ base: 50, cap: 400 });
  for (let n = 0; n < 200; n++) {
    const delay = real.next();
    assert.ok(delay >= 0 && delay <= 400);
  }
  const huge = new Backoff({ base: 1, cap: 5000, random: () => 1 });
  for (let n = 0; n < 100; n++) huge.next();
  assert.equal(huge.next(), 5000); // no overflow to Infinity/NaN after many attempts
});
