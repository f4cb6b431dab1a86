import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { XdsError } from "@xdskit/xds-types";
import { createFileSource, parseMeshFile } from "./file-source.js";
import type { SourceChange } from "./sources.js";

const good = `services:
  - name: echo
    endpoints:
      - { address: 127.0.0.1, port: 8081 }
      - { address: 127.0.0.1, port: 8082, weight: 3 }
  - name: echo-v2
    endpoints: [{ address: 127.0.0.1, port: 8083 }]
routes:
  - host: echo
    split: [{ service: echo, weight: 90 }, { service: echo-v2, weight: 10 }]
`;

function rejects(text: string, pattern: RegExp, file = "mesh.yaml") {
  assert.throws(
    () => parseMeshFile(text, file),
    (e: unknown) => e instanceof XdsError && e.code === "invalid_config" && pattern.test(e.message),
    `expected ${pattern}`,
  );
}

describe("mesh file parsing", () => {
  it("reads services and routes", () => {
    const m = parseMeshFile(good, "mesh.yaml");
    assert.equal(m.services.length, 2);
    assert.equal(m.services[0]?.endpoints[1]?.weight, 3);
    assert.equal(m.routes[0]?.split.length, 2);
  });

  it("reads JSON by extension", () => {
    const m = parseMeshFile(
      JSON.stringify({ services: [{ name: "a", endpoints: [{ address: "10.0.0.1", port: 80 }] }] }),
      "mesh.json",
    );
    assert.equal(m.services[0]?.name, "a");
  });

  it("names file, path and problem for each kind of mistake", () => {
    rejects(
      "services:\n  - name: echo\n    endpoint: []\n",
      /mesh.yaml: services\[0\]\.endpoint: unknown key; expected one of name, port, protocol, endpoints/,
    );
    rejects(
      "services:\n  - name: echo\n    endpoints:\n      - { address: 127.0.0.1, port: '80' }\n",
      /services\[0\]\.endpoints\[0\]\.port: expected a number, got string "80"/,
    );
    rejects(
      "services:\n  - name: echo\n    endpoints:\n      - { address: 127.0.0.1, port: 70000 }\n",
      /services\[0\]\.endpoints\[0\]\.port: port must be a whole number from 1 to 65535, got 70000/,
    );
    rejects(
      "services:\n  - { name: a, endpoints: [] }\n  - { name: a, endpoints: [] }\n",
      /services\[1\]\.name: duplicate service name "a"/,
    );
    rejects(
      "services:\n  - { name: a, endpoints: [] }\nroutes:\n  - { host: a, split: [{ service: ghost, weight: 1 }] }\n",
      /routes\[0\]\.split\[0\]\.service: no service named "ghost"/,
    );
    rejects("services: {}\n", /services: expected a list, got a map/);
    rejects("services: [\n", /mesh.yaml: not valid YAML/);
    rejects(
      "routes:\n  - { host: a, split: [{ service: a, weight: 0 }] }\nservices:\n  - { name: a, endpoints: [] }\n",
      /weights must add up to more than 0/,
    );
  });
});

describe("file source", () => {
  it("serves edits, refuses a broken edit while keeping the last good config, and recovers", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "xdskit-mesh-"));
    const file = path.join(dir, "mesh.yaml");
    fs.writeFileSync(file, good);
    const src = createFileSource({ path: file, pollMs: 20 });
    try {
      const changes: SourceChange[] = [];
      const rejected: string[] = [];
      src.on("change", (c) => changes.push(c));
      src.on("rejected", (e) => rejected.push(e.error.message));
      assert.equal(src.services().length, 2);

      fs.writeFileSync(file, good.replace("port: 8083", "port: 8084"));
      src.reload();
      assert.deepEqual(changes.at(-1)?.kinds, ["endpoints"], "only endpoints changed: an EDS-only push");

      fs.writeFileSync(file, `${good}\nbogus: 1\n`);
      src.reload();
      assert.match(rejected.at(-1) ?? "", /mesh.yaml: bogus: unknown key/);
      assert.equal(src.services()[1]?.endpoints[0]?.port, 8084, "the last good config is kept");
      assert.ok(src.lastError);

      fs.writeFileSync(file, good.replace("port: 8083", "port: 8084").replace("weight: 90", "weight: 50"));
      src.reload();
      assert.deepEqual(changes.at(-1)?.kinds, ["routes"], "only the split changed: an RDS-only push");
      assert.equal(src.lastError, undefined);
    } finally {
      src.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a broken file at start is an error naming the file", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "xdskit-mesh-"));
    const file = path.join(dir, "bad.yaml");
    fs.writeFileSync(file, "services: 3\n");
    assert.throws(() => createFileSource({ path: file }), /bad.yaml: services: expected a list/);
    assert.throws(() => createFileSource({ path: path.join(dir, "missing.yaml") }), /missing.yaml: cannot read/);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
