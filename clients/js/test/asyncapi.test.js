// The SDK against docs/asyncapi.yaml: the frame types it sends and handles, the fields of the
// frames it builds and reads, and the close codes with the action it takes for each.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { Parser } from "@asyncapi/parser";
import { afterClose, CLIENT_FRAMES, CLOSE, frames, SERVER_FRAMES } from "../herald.js";

const docUrl = new URL("../../../docs/asyncapi.yaml", import.meta.url);
const { document } = await new Parser().parse(await readFile(docUrl, "utf8"));
const doc = document.json();
const gatewayOps = Object.values(doc.operations).filter((op) => op.channel === doc.channels.gateway);

/** Every object schema a message's payload may be (oneOf expanded). */
const variants = (payload) => (payload.oneOf ?? [payload]);
const frameType = (schema) => schema.properties.type.const;
const byType = (action) => {
  const out = new Map();
  for (const op of gatewayOps.filter((o) => o.action === action)) {
    for (const message of op.messages) {
      for (const schema of variants(message.payload)) {
        out.set(frameType(schema), [...(out.get(frameType(schema)) ?? []), schema]);
      }
    }
  }
  return out;
};
const received = byType("receive"); // client → gateway
const sent = byType("send"); // gateway → client

test("the SDK's frame types are the document's, both ways", () => {
  assert.deepEqual([...received.keys()].sort(), [...CLIENT_FRAMES].sort());
  assert.deepEqual([...sent.keys()].sort(), [...SERVER_FRAMES].sort());
});

function fits(frame, schemas) {
  return schemas.some((schema) => Object.keys(frame).every((k) => k in schema.properties)
    && (schema.required ?? []).every((k) => k in frame)
    && frame.type === frameType(schema));
}

test("every frame the SDK builds fits one of the document's schemas for it", () => {
  const built = [frames.authToken("jwt"), frames.authTrusted("bob"), frames.authTrusted("bob", "acme"), frames.ack(["n1", "n2"]),
    frames.mark("read", ["n1"]), frames.markAll("seen")];
  for (const frame of built) assert.ok(fits(frame, received.get(frame.type)), JSON.stringify(frame));
});

test("every field the SDK reads from a server frame is in the document", async () => {
  const source = await readFile(new URL("../herald.js", import.meta.url), "utf8");
  const read = new Set([...source.matchAll(/\bframe\??\.(\w+)/g)].map((m) => m[1]));
  const documented = new Set([...sent.values()].flat().flatMap((s) => Object.keys(s.properties)));
  assert.ok(read.size >= 6, [...read].join());
  for (const field of read) assert.ok(documented.has(field), `the SDK reads frame.${field}, not in docs/asyncapi.yaml`);
  const notification = doc.components.schemas.Notification.properties;
  for (const field of ["id", "message", "createdAt"]) assert.ok(field in notification);
});

test("close codes: the SDK's names and actions are the document's", () => {
  const codes = doc.channels.gateway["x-close-codes"];
  assert.deepEqual(Object.fromEntries(codes.map((c) => [c.name, c.code])), { ...CLOSE });
  for (const { code, clientAction } of codes) {
    assert.equal(afterClose(code, true), clientAction, `close ${code}`);
  }
});
