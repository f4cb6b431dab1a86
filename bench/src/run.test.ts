// The bench suite's quick run, executed only to check that it completes and
// produces well-formed figures. It never asserts a speed.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { runBench } from "./run.js";

describe("bench --quick", () => {
  it("runs every scenario and returns well-formed figures", async () => {
    const { figures, failed } = await runBench({ quick: true, log: () => {} });
    assert.deepEqual(failed, []);
    const scenarios = new Set(figures.map((f) => f.scenario));
    assert.deepEqual([...scenarios].sort(), [
      "churn",
      "etcd-source",
      "fanout",
      "idle-memory",
      "large-world",
      "reconnect-storm",
      "sidecar-fleet",
      "sidecar-sources",
      "sidecars",
      "snapshot",
      "sotw-acks",
      "tls",
    ]);
    for (const f of figures) {
      assert.ok(f.metric.length > 0);
      assert.ok(Number.isFinite(f.value) && f.value >= 0, `${f.metric}: ${f.value}`);
      assert.ok(f.unit.length > 0);
      if (f.baseline) {
        assert.ok(Number.isFinite(f.baseline.value) && f.baseline.value > 0);
        assert.ok(Number.isFinite(f.ratio ?? Number.NaN), `${f.metric} has a ratio`);
      }
      JSON.parse(JSON.stringify(f));
    }
  });
});
