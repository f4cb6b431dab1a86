import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createPushQueue, type PushRequest } from "./push-queue.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("push queue", () => {
  it("debounces a burst into one push that merges kinds and reasons", async () => {
    const pushes: PushRequest[] = [];
    const q = createPushQueue({ debounceMs: 40, maxDelayMs: 5000, onPush: (r) => void pushes.push(r) });
    q.enqueue({ kinds: ["endpoints"], reason: "a" });
    await sleep(10);
    q.enqueue({ kinds: ["routes"], reason: "b" });
    q.enqueue({ kinds: ["endpoints"], reason: "a" });
    assert.equal(pushes.length, 0);
    await sleep(120);
    assert.equal(pushes.length, 1);
    assert.deepEqual([...(pushes[0]?.kinds ?? [])].sort(), ["endpoints", "routes"]);
    assert.deepEqual(pushes[0]?.reasons, ["a", "b"]);
    assert.equal(pushes[0]?.merged, 3);
    q.close();
  });

  it("pushes a change its source already settled at once, unless others are waiting for quiet", async () => {
    const pushes: PushRequest[] = [];
    const q = createPushQueue({ debounceMs: 200, maxDelayMs: 5000, onPush: (r) => void pushes.push(r) });
    const t0 = Date.now();
    q.enqueue({ kinds: ["endpoints"], reason: "file mesh.yaml changed", settled: true });
    await sleep(20);
    assert.equal(pushes.length, 1, "a settled change waits for no debounce");
    assert.ok(Date.now() - t0 < 150);
    // Behind an unsettled change, a settled one waits with it (one push for both).
    q.enqueue({ kinds: ["routes"], reason: "routes replaced" });
    q.enqueue({ kinds: ["endpoints"], reason: "file mesh.yaml changed", settled: true });
    await sleep(20);
    assert.equal(pushes.length, 1);
    await sleep(300);
    assert.equal(pushes.length, 2);
    assert.equal(pushes[1]?.merged, 2);
    q.close();
  });

  it("does not wait longer than the maximum delay under a steady stream of events", async () => {
    const pushes: PushRequest[] = [];
    const q = createPushQueue({ debounceMs: 50, maxDelayMs: 120, onPush: (r) => void pushes.push(r) });
    const started = Date.now();
    for (let i = 0; i < 12 && pushes.length === 0; i++) {
      q.enqueue({ kinds: ["endpoints"], reason: `e${i}` });
      await sleep(25);
    }
    assert.equal(pushes.length, 1, "a push happened although events never paused for the quiet period");
    assert.ok(Date.now() - started < 1000);
    q.close();
  });

  it("runs one push at a time and queues what arrives meanwhile", async () => {
    const order: string[] = [];
    let release = () => {};
    const q = createPushQueue({
      debounceMs: 5,
      onPush: async (r) => {
        order.push(`start:${r.reasons.join()}`);
        if (r.reasons.includes("first")) await new Promise<void>((res) => (release = res));
        order.push(`end:${r.reasons.join()}`);
      },
    });
    q.enqueue({ kinds: ["routes"], reason: "first" });
    await sleep(30);
    q.enqueue({ kinds: ["routes"], reason: "second" });
    await sleep(30);
    assert.deepEqual(order, ["start:first"]);
    release();
    await sleep(50);
    assert.deepEqual(order, ["start:first", "end:first", "start:second", "end:second"]);
    q.close();
  });

  it("keeps going after a push throws", async () => {
    const errors: unknown[] = [];
    let calls = 0;
    const q = createPushQueue({
      debounceMs: 5,
      onPush: () => {
        calls++;
        if (calls === 1) throw new Error("boom");
      },
      onError: (e) => errors.push(e),
    });
    q.enqueue({ kinds: ["routes"], reason: "x" });
    await q.flush();
    q.enqueue({ kinds: ["routes"], reason: "y" });
    await q.flush();
    assert.equal(calls, 2);
    assert.equal(errors.length, 1);
    q.close();
  });
});
