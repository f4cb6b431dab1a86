// modelChanges: what really changed between two accepted models, by service
// identity first and each service's own JSON second.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { frozenService } from "./frozen.js";
import type { RouteRule, Service } from "./model.js";
import { type AcceptedModel, derivedPortsOf, modelChanges, reuseUnchanged } from "./source-model.js";

const svc = (name: string, extra: Partial<Service> = {}): Service =>
  frozenService({ name, endpoints: [{ address: "10.0.0.1", port: 8080 }], ...extra });
// As the controller accepts them: each model remembers the derived ports of the one before.
const model = (services: Service[], routes: RouteRule[] = [], prev?: AcceptedModel): AcceptedModel => ({
  services,
  routes,
  gateways: [],
  policies: [],
  tcpRoutes: [],
  sidecars: [],
  peerAuthentications: [],
  accessPolicies: [],
  refused: [],
  derivedPorts: derivedPortsOf(services, prev?.derivedPorts),
});
const kinds = (a: AcceptedModel, b: AcceptedModel) => [...modelChanges(a, b)].sort();

describe("modelChanges", () => {
  const a = svc("a");
  const b = svc("b", { port: 9000 });

  it("finds nothing when the same (or equal) services come back", () => {
    assert.deepEqual(kinds(model([a, b]), model([a, b])), []);
    assert.deepEqual(kinds(model([a, b]), model([svc("a"), svc("b", { port: 9000 })])), [], "equal copies");
    const loose = { name: "a", endpoints: [{ address: "10.0.0.1", port: 8080 }] };
    assert.deepEqual(kinds(model([a]), model([loose])), [], "an unfrozen equal copy");
  });

  it("sees an endpoint change as endpoints only", () => {
    const moved = svc("b", { port: 9000, endpoints: [{ address: "10.0.0.2", port: 8080 }] });
    assert.deepEqual(kinds(model([a, b]), model([a, moved])), ["endpoints"]);
    const weighted = svc("b", { port: 9000, endpoints: [{ address: "10.0.0.1", port: 8080, weight: 3 }] });
    assert.deepEqual(kinds(model([a, b]), model([a, weighted])), ["endpoints"]);
  });

  it("keeps a port derived from the first endpoint while the service exists: moving that endpoint is endpoints only", () => {
    const before = model([a]);
    const moved = model([svc("a", { endpoints: [{ address: "10.0.0.7", port: 8081 }] })], [], before);
    assert.deepEqual(kinds(before, moved), ["endpoints"]);
    assert.equal(moved.derivedPorts.get("a"), 8080, "the port first derived");
    const emptied = model([svc("a", { endpoints: [] })], [], moved);
    assert.equal(emptied.derivedPorts.get("a"), 8080, "kept with no endpoints");
    const declared = model([svc("a", { port: 9000 })], [], emptied);
    assert.deepEqual(kinds(emptied, declared), ["endpoints", "services"], "declaring a port is a service change");
    assert.equal(declared.derivedPorts.has("a"), false);
  });

  it("sees a service's first endpoints deciding its port, a policy, a label, an added or a renamed service as services (and endpoints)", () => {
    const both = ["endpoints", "services"];
    // A service seen without endpoints is on port 80 until it has some.
    const bare = model([svc("a", { endpoints: [] })]);
    assert.deepEqual(
      kinds(bare, model([svc("a", { endpoints: [{ address: "10.0.0.1", port: 8081 }] })], [], bare)),
      both,
    );
    assert.deepEqual(kinds(model([a]), model([svc("a", { loadBalancer: { policy: "ring-hash" } })])), both);
    assert.deepEqual(kinds(model([a]), model([svc("a", { labels: { v: "2" } })])), both);
    assert.deepEqual(kinds(model([a]), model([a, b])), both);
    assert.deepEqual(kinds(model([a, b]), model([b, a])), both, "order is part of the model");
    assert.deepEqual(kinds(model([a]), model([svc("c")])), both);
  });

  it("compares routes and gateways whole", () => {
    const r: RouteRule = { host: "a", split: [{ service: "a", weight: 1 }] };
    assert.deepEqual(kinds(model([a], [r]), model([a], [{ ...r, timeoutMs: 500 }])), ["routes"]);
    assert.deepEqual(kinds(model([a], [r]), model([a], [{ ...r }])), []);
  });

  it("does not remember what an unfrozen service looked like", () => {
    const loose: Service = { name: "a", endpoints: [{ address: "10.0.0.1", port: 8080 }] };
    assert.deepEqual(kinds(model([loose]), model([a])), []);
    (loose.endpoints as { address: string; port: number }[])[0] = { address: "10.0.0.9", port: 8080 };
    assert.deepEqual(kinds(model([loose]), model([a])), ["endpoints"], "its new endpoints are read again");
  });

  it("reuseUnchanged keeps the objects of equal services and freezes the rest", () => {
    const prev = [svc("a"), svc("b", { port: 9000 })];
    const parsed: Service[] = [
      { name: "a", endpoints: [{ address: "10.0.0.1", port: 8080 }] },
      { name: "b", port: 9000, endpoints: [{ address: "10.0.0.2", port: 8080 }] },
      { name: "c", endpoints: [] },
    ];
    const next = reuseUnchanged(prev, parsed);
    assert.equal(next[0], prev[0], "equal: the old object");
    assert.notEqual(next[1], prev[1], "changed: a new object");
    assert.ok(next.every((s) => Object.isFrozen(s) && Object.isFrozen(s.endpoints)));
    assert.deepEqual(
      next.map((s) => s.name),
      ["a", "b", "c"],
    );
    const loose: Service = { name: "a", endpoints: [{ address: "10.0.0.1", port: 8080 }] };
    assert.notEqual(reuseUnchanged([loose], [parsed[0] as Service])[0], loose, "an unfrozen service is never reused");
  });
});
