import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { TypeUrl } from "@xdskit/xds-types";
import fc from "fast-check";
import { createSnapshotRegistry } from "./index.js";
import { cla } from "./testing/fixtures.js";
import type { CancelWatch, WatchRequest, WatchResponse } from "./types.js";

const EDS = TypeUrl.ClusterLoadAssignment;
const flush = () => new Promise((resolve) => setImmediate(resolve));
const NAMES = ["a", "b", "c", "d", "e"];

type Op =
  | { kind: "set"; group: string; items: [string, number][] }
  | { kind: "update"; group: string; upsert: [string, number][]; remove: string[] }
  | { kind: "watch"; group: string; names: string[] | null }
  | { kind: "cancel"; index: number };

const group = fc.constantFrom("g1", "g2");
const item = fc.tuple(fc.constantFrom(...NAMES), fc.integer({ min: 1, max: 3 }));
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant("set" as const),
    group,
    items: fc.uniqueArray(item, { selector: (x) => x[0], maxLength: 5 }),
  }),
  fc.record({
    kind: fc.constant("update" as const),
    group,
    upsert: fc.uniqueArray(item, { selector: (x) => x[0], maxLength: 3 }),
    remove: fc.uniqueArray(fc.constantFrom(...NAMES), { maxLength: 2 }),
  }),
  fc.record({
    kind: fc.constant("watch" as const),
    group,
    names: fc.option(fc.uniqueArray(fc.constantFrom(...NAMES), { minLength: 1, maxLength: 3 }), { nil: null }),
  }),
  fc.record({ kind: fc.constant("cancel" as const), index: fc.nat({ max: 20 }) }),
);

/**
 * A simulated client: it keeps what it was sent and re-arms its one-shot
 * watch after each response, as an ADS stream does. At the end, what it holds
 * must equal the registry's latest state for its subscription.
 */
class Client {
  readonly have = new Map<string, string>();
  cancel: CancelWatch | undefined;
  cancelled = false;
  constructor(
    readonly registry: ReturnType<typeof createSnapshotRegistry>,
    readonly group: string,
    readonly names: string[] | null,
  ) {}
  arm(): void {
    const req: WatchRequest = {
      nodeGroup: this.group,
      typeUrl: EDS,
      wildcard: this.names === null,
      resourceNames: new Set(this.names ?? []),
      knownVersions: new Map(this.have),
      mode: "delta",
    };
    this.cancel = this.registry.watch(req, (r) => this.receive(r));
  }
  receive(r: WatchResponse): void {
    for (const res of r.resources) this.have.set(res.name, res.version);
    for (const name of r.removed) this.have.delete(name);
    if (!this.cancelled) this.arm();
  }
  stop(): void {
    this.cancelled = true;
    this.cancel?.();
  }
}

describe("property: random set/update/watch/cancel sequences", () => {
  it("every live watcher ends at the latest state, and no watch leaks", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 40 }), fc.boolean(), async (ops, interleave) => {
        const registry = createSnapshotRegistry();
        const clients: Client[] = [];
        for (const o of ops) {
          try {
            if (o.kind === "set") registry.setSnapshot(o.group, { [EDS]: o.items.map(([n, k]) => cla(n, k)) });
            else if (o.kind === "update") {
              const upNames = new Set(o.upsert.map(([n]) => n));
              registry.updateResources(o.group, EDS, {
                upsert: o.upsert.map(([n, k]) => cla(n, k)),
                remove: o.remove.filter((n) => !upNames.has(n)),
              });
            } else if (o.kind === "watch") {
              const c = new Client(registry, o.group, o.names);
              clients.push(c);
              c.arm();
            } else {
              clients[o.index % Math.max(1, clients.length)]?.stop();
            }
          } catch (err) {
            throw new Error(`operation ${JSON.stringify(o)} threw: ${String(err)}`);
          }
          // Half the runs let deliveries happen between operations, half batch them.
          if (interleave) await flush();
        }
        await flush();
        let live = 0;
        for (const c of clients) {
          if (c.cancelled) continue;
          live++;
          const current = registry.getSnapshot(c.group)?.get(EDS)?.resources ?? new Map();
          const expected = new Map<string, string>();
          for (const [name, r] of current)
            if (c.names === null || c.names.includes(name)) expected.set(name, r.version);
          assert.deepEqual(c.have, expected);
        }
        // Each live client holds exactly one parked watch; cancelled ones hold none.
        assert.equal(registry.watchCount(), live);
        for (const c of clients) c.stop();
        assert.equal(registry.watchCount(), 0);
      }),
      { numRuns: 300 },
    );
  });
});
