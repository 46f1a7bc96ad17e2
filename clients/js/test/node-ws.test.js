// Node 20 has no global WebSocket: the client takes the `ws` package's, against a small
// gateway stand-in over real sockets (the real gateway is exercised by tests/e2e).
import { test } from "node:test";
import assert from "node:assert/strict";
import { WebSocket, WebSocketServer } from "ws";
import { connect } from "../herald.js";
import { note, until } from "./fake-socket.js";

test("over real sockets with the ws package: AUTH, notifications, ACKs, reconnect", async () => {
  const server = new WebSocketServer({ port: 0, host: "127.0.0.1" });
  const acked = new Set();
  let connections = 0;
  server.on("connection", (socket) => {
    connections += 1;
    const mine = connections;
    socket.on("message", (data) => {
      const frame = JSON.parse(String(data));
      if (frame.type === "AUTH") {
        socket.send(JSON.stringify({ type: "AUTH_OK", userId: "bob", tenantId: "default", pending: 0 }));
        for (const id of ["a", "b", "c"]) socket.send(JSON.stringify({ type: "NOTIFICATION", notification: note(id) }));
        if (mine === 1) setTimeout(() => socket.terminate(), 20); // a drop: the replay follows
      } else if (frame.type === "ACK" && mine > 1) {
        frame.notificationIds.forEach((id) => acked.add(id));
        socket.send(JSON.stringify({ type: "ACK_OK", notificationIds: frame.notificationIds, unknown: [] }));
      }
    });
  });
  await new Promise((resolve) => server.once("listening", resolve));
  const url = `ws://127.0.0.1:${server.address().port}/ws`;
  const client = connect(url, { token: "t", autoAck: true, WebSocket, backoff: { base: 5, cap: 20 } });
  const shown = [];
  client.on("notification", (n) => shown.push(n.id));
  await until(() => acked.size === 3 && client.ledger.owed.size === 0, 5000);
  assert.deepEqual(shown, ["a", "b", "c"]);
  assert.ok(client.stats.connects >= 2);
  await client.close();
  await new Promise((resolve) => server.close(resolve));
});
