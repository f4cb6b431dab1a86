import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DEFAULT_HEAP_GROWTH_PERCENT, tuneHeapGrowth } from "./heap-growth.js";

describe("tuneHeapGrowth", () => {
  it("accepts whole percentages from 10 to 400 and refuses anything else with the range", () => {
    assert.equal(DEFAULT_HEAP_GROWTH_PERCENT, 100);
    tuneHeapGrowth();
    tuneHeapGrowth(10);
    tuneHeapGrowth(400);
    for (const bad of [0, 9, 401, 1.5, Number.NaN]) {
      assert.throws(() => tuneHeapGrowth(bad), /whole percentage from 10 to 400, got/);
    }
  });
});
