import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Backoff } from "./backoff.js";

describe("Backoff", () => {
  it("grows exponentially up to the cap, with jitter within bounds, and resets", () => {
    const b = new Backoff({ initialMs: 100, maxMs: 1000, multiplier: 2, jitter: 0.5 }, () => 1);
    assert.deepEqual([b.next(), b.next(), b.next(), b.next(), b.next(), b.next()], [100, 200, 400, 800, 1000, 1000]);
    b.reset();
    assert.equal(b.next(), 100);
    const low = new Backoff({ initialMs: 100, maxMs: 1000, jitter: 0.5 }, () => 0);
    assert.deepEqual([low.next(), low.next()], [50, 100], "jitter takes off at most half");
  });

  it("rejects settings that cannot work", () => {
    assert.throws(() => new Backoff({ initialMs: 0 }), /initialMs/);
    assert.throws(() => new Backoff({ initialMs: 500, maxMs: 100 }), /maxMs/);
  });
});
