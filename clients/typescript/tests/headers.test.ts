// The safe-write header helpers, without a server (client.test.ts sends them to one).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { idempotencyKey, ifMatch } from "../src/index.js";

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe("ifMatch and idempotencyKey", () => {
  it("ifMatch quotes a task's version, and passes an ETag or * through", () => {
    assert.deepEqual(ifMatch({ version: 8 }), { "If-Match": '"8"' });
    assert.deepEqual(ifMatch({ version: 0 }), { "If-Match": '"0"' });
    assert.deepEqual(ifMatch('"9"'), { "If-Match": '"9"' });
    assert.deepEqual(ifMatch("*"), { "If-Match": "*" });
  });

  it("idempotencyKey makes a new UUID each time, or takes the caller's key", () => {
    const a = idempotencyKey()["Idempotency-Key"];
    const b = idempotencyKey()["Idempotency-Key"];
    assert.match(a, UUID_V4);
    assert.notEqual(a, b);
    assert.deepEqual(idempotencyKey("order-42"), { "Idempotency-Key": "order-42" });
  });

  it("idempotencyKey works where crypto.randomUUID is missing (a page not served over HTTPS)", () => {
    // Browsers leave randomUUID out of insecure contexts; getRandomValues is always there.
    Object.defineProperty(globalThis.crypto, "randomUUID", { value: undefined, configurable: true });
    try {
      const keys = new Set(Array.from({ length: 50 }, () => idempotencyKey()["Idempotency-Key"]));
      assert.equal(keys.size, 50);
      for (const key of keys) assert.match(key, UUID_V4);
    } finally {
      delete (globalThis.crypto as { randomUUID?: unknown }).randomUUID;
    }
    assert.equal(typeof globalThis.crypto.randomUUID, "function", "the stub is gone");
  });
});
