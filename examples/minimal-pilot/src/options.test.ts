import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { UsageError, parseOptions } from "./options.js";

describe("minimal-pilot options", () => {
  it("--heap-growth: 100 unless given, 0 keeps V8's own, out of range is a usage error naming the range", () => {
    assert.equal(parseOptions([])?.heapGrowthPercent, 100);
    assert.equal(parseOptions(["--heap-growth", "0"])?.heapGrowthPercent, 0);
    assert.equal(parseOptions(["--heap-growth", "50"])?.heapGrowthPercent, 50);
    for (const bad of ["5", "401", "1.5", "-1", "lots"]) {
      assert.throws(
        () => parseOptions(["--heap-growth", bad]),
        (err: unknown) => err instanceof UsageError && /--heap-growth/.test(err.message),
        bad,
      );
    }
  });
});
