// A WebSocket stand-in the tests drive by hand: the "server" side opens, sends and closes.
export class FakeSocket {
  static sockets = [];

  constructor(url) {
    this.url = url;
    this.readyState = 0;
    this.sent = [];
    this.onopen = this.onmessage = this.onerror = this.onclose = null;
    FakeSocket.sockets.push(this);
  }

  static reset() {
    FakeSocket.sockets = [];
  }

  static last() {
    return FakeSocket.sockets.at(-1);
  }

  send(data) {
    if (this.readyState !== 1) throw new Error("send on a socket that is not open");
    this.sent.push(JSON.parse(data));
  }

  close(code = 1000, reason = "") {
    if (this.readyState >= 2) return;
    this.readyState = 2;
    setTimeout(() => this.serverClose(code, reason), 0);
  }

  serverOpen() {
    this.readyState = 1;
    this.onopen?.({});
  }

  serverSend(frame) {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }

  serverClose(code, reason = "") {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }

  acks() {
    return this.sent.filter((f) => f.type === "ACK").flatMap((f) => f.notificationIds);
  }
}

export const note = (id) => ({
  id, tenantId: "default", userId: "bob", type: "LIKE", actorId: "alice", eventId: `e-${id}`,
  postId: "p1", commentId: null, message: "alice liked your post", priority: "promotional",
  createdAt: "2026-01-01T00:00:00Z", expiresAt: "2026-01-02T00:00:00Z",
});

export const tick = (ms = 0) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `predicate` every 2 ms for at most `ms`; throws when it never holds. */
export async function until(predicate, ms = 2000) {
  const end = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await tick(2);
  }
}
