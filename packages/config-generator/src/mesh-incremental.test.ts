// Parsing a mesh file in O(change) must give exactly what a full parse gives:
// the same mesh for any edit, the same refusal for a bad one; and it must
// really be incremental for an edit inside one service.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { parseMeshFile } from "./mesh-file.js";
import { IncrementalMeshParser } from "./mesh-incremental.js";

const service = (i: number, port = 8080, extra = "") => `  - name: svc-${i}
    protocol: grpc
    port: 8080
    endpoints:
      - { address: 10.0.0.${i}, port: ${port} }
      - address: 10.1.0.${i}
        port: 8080
        labels: { version: v1 }${extra}
`;
const file = (n: number, edit: (i: number) => string = (i) => service(i)) =>
  `# a mesh\nservices:\n${Array.from({ length: n }, (_, i) => edit(i)).join("")}routes:\n  - host: svc-0\n    split: [{ service: svc-1, weight: 1 }]\n`;

function same(parser: IncrementalMeshParser, text: string): "full" | "incremental" | "refused" {
  let want: unknown;
  try {
    want = parseMeshFile(text, "mesh.yaml");
  } catch (err) {
    assert.throws(() => parser.parse(text, "mesh.yaml"), { message: (err as Error).message });
    return "refused";
  }
  assert.deepEqual(parser.parse(text, "mesh.yaml"), want);
  return parser.lastKind;
}

describe("parsing a mesh file in O(change)", () => {
  it("an edit inside one service is parsed as that service alone, and gives the full parse's mesh", () => {
    const p = new IncrementalMeshParser();
    assert.equal(same(p, file(50)), "full");
    assert.equal(
      same(
        p,
        file(50, (i) => service(i, i === 17 ? 9017 : 8080)),
      ),
      "incremental",
    );
    assert.deepEqual(p.changed, [17]);
    // An endpoint added at the end of a service, a label changed: still one service.
    assert.equal(
      same(
        p,
        file(50, (i) => service(i, i === 17 ? 9017 : 8080, i === 3 ? "\n      - { address: 10.2.0.3, port: 1 }" : "")),
      ),
      "incremental",
    );
    assert.equal(
      same(
        p,
        file(50, (i) => service(i, i === 17 ? 9017 : 8080, i === 3 ? "\n      - { address: 10.2.0.4, port: 1 }" : "")),
      ),
      "incremental",
    );
  });

  it("anything else is parsed in full: a service added or removed, routes, two services at once, a bad edit refused as in full", () => {
    const p = new IncrementalMeshParser();
    same(p, file(20));
    assert.equal(same(p, file(21)), "full", "a service added");
    assert.equal(same(p, file(20)), "full", "a service removed");
    assert.equal(same(p, file(20).replace("weight: 1", "weight: 2")), "full", "routes");
    assert.equal(
      same(
        p,
        file(20, (i) => service(i, i === 2 || i === 9 ? 1 : 8080)),
      ),
      "full",
      "two services",
    );
    // A bad edit inside a service: refused with the full parse's message, and the parser keeps its last good text.
    assert.equal(
      same(
        p,
        file(20, (i) => service(i, i === 4 ? 70000 : i === 2 || i === 9 ? 1 : 8080)),
      ),
      "refused",
    );
    assert.equal(
      same(
        p,
        file(20, (i) => service(i, i === 4 ? 4 : i === 2 || i === 9 ? 1 : 8080)),
      ),
      "incremental",
    );
    // A new service's lines typed inside another's text are not taken as part of it.
    assert.equal(
      same(
        p,
        file(20).replace(
          "labels: { version: v1 }\n  - name: svc-6",
          "labels: { version: v1 }\n  - name: svc-x\n    endpoints: []\n  - name: svc-6",
        ),
      ),
      "full",
    );
    // Broken YAML: the full parse's refusal.
    assert.equal(same(p, file(20).replace("port: 8080\n    endpoints", "port: [8080\n    endpoints")), "refused");
  });

  it("aliases and flow-style lists turn it off (the full parse is always right)", () => {
    const p = new IncrementalMeshParser();
    const withAlias = file(5)
      .replace("labels: { version: v1 }", "labels: &v1 { version: v1 }")
      .replace(/labels: \{ version: v1 \}/g, "labels: *v1");
    same(p, withAlias);
    assert.equal(same(p, withAlias.replace("port: 8080 }", "port: 8081 }")), "full");
    const flow = `services: [{ name: a, endpoints: [{ address: 10.0.0.1, port: 1 }] }, { name: b, endpoints: [{ address: 10.0.0.2, port: 2 }] }]\n`;
    same(p, flow);
    assert.equal(same(p, flow.replace("port: 2", "port: 3")), "full");
  });

  it("property: any sequence of edits to one service's values gives the full parse's mesh", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            i: fc.integer({ min: 0, max: 29 }),
            port: fc.integer({ min: 0, max: 70_000 }),
            label: fc.constantFrom("v1", "v2", ""),
          }),
          {
            minLength: 1,
            maxLength: 12,
          },
        ),
        (edits) => {
          const p = new IncrementalMeshParser();
          const ports = Array.from({ length: 30 }, () => 8080);
          const labels = Array.from({ length: 30 }, () => "v1");
          const text = () =>
            file(30, (i) =>
              service(i, ports[i], "").replace("version: v1", labels[i] ? `version: ${labels[i]}` : "version: none"),
            );
          same(p, text());
          for (const e of edits) {
            ports[e.i] = e.port;
            labels[e.i] = e.label;
            same(p, text());
          }
        },
      ),
      { numRuns: 40 },
    );
  });
});
