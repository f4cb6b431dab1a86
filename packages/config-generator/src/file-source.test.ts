import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { XdsError } from "@xdskit/xds-types";
import { createFileSource } from "./file-source.js";
import { parseMeshFile } from "./mesh-file.js";
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

      const [echo0] = src.services();
      const at8084 = good.replace("port: 8083", "port: 8084");
      fs.writeFileSync(file, at8084);
      await src.reload();
      // echo-v2's port comes from its only endpoint; the endpoint moving is an
      // endpoint change (the controller keeps the port it first derived).
      assert.deepEqual(changes.at(-1)?.kinds, ["endpoints"], "an endpoint moving ports is an endpoint change");
      assert.equal(src.services()[0], echo0, "an unchanged service keeps its object");
      assert.ok(Object.isFrozen(src.services()[1]), "services are handed out frozen");

      fs.writeFileSync(file, at8084.replace("port: 8082", "port: 8086"));
      await src.reload();
      assert.deepEqual(changes.at(-1)?.kinds, ["endpoints"], "only endpoints changed: an EDS-only push");
      fs.writeFileSync(file, at8084);
      await src.reload();
      assert.deepEqual(changes.at(-1)?.kinds, ["endpoints"]);

      fs.writeFileSync(file, `${good}\nbogus: 1\n`);
      await src.reload();
      assert.match(rejected.at(-1) ?? "", /mesh.yaml: bogus: unknown key/);
      assert.equal(src.services()[1]?.endpoints[0]?.port, 8084, "the last good config is kept");
      assert.ok(src.lastError);

      fs.writeFileSync(file, good.replace("port: 8083", "port: 8084").replace("weight: 90", "weight: 50"));
      await src.reload();
      assert.deepEqual(changes.at(-1)?.kinds, ["routes"], "only the split changed: an RDS-only push");
      assert.equal(src.lastError, undefined);

      // A policy or label change of a service is a service change, not nothing.
      const before = changes.length;
      fs.writeFileSync(
        file,
        good
          .replace("port: 8083", "port: 8084")
          .replace("weight: 90", "weight: 50")
          .replace("  - name: echo-v2\n", "  - name: echo-v2\n    loadBalancer: { policy: least-request }\n"),
      );
      await src.reload();
      assert.equal(changes.length, before + 1, "the change was reported");
      assert.deepEqual(changes.at(-1)?.kinds, ["services", "endpoints"]);
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

  it("sees a save by rename through the folder's notifications, with no poll in sight", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "xdskit-mesh-"));
    const file = path.join(dir, "mesh.yaml");
    fs.writeFileSync(file, good);
    // Polling every 1,000 s: only a notification can bring the edit in.
    const src = createFileSource({ path: file, pollMs: 1_000_000 });
    try {
      const changed = new Promise<SourceChange>((resolve) => src.on("change", resolve));
      // Another file of the folder is not the mesh: it changes nothing.
      fs.writeFileSync(path.join(dir, "notes.txt"), "unrelated");
      fs.writeFileSync(`${file}.tmp`, good.replace("port: 8083", "port: 8084"));
      fs.renameSync(`${file}.tmp`, file);
      const timeout = new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error("the renamed-in edit was not seen within 10 s")), 10_000).unref(),
      );
      const change = await Promise.race([changed, timeout]);
      assert.deepEqual(change.kinds, ["endpoints"]);
      assert.equal(src.services().find((x) => x.name === "echo-v2")?.endpoints[0]?.port, 8084);
    } finally {
      src.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses an empty, whitespace-only, oversized or emptied file, and keeps the last good one", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "xdskit-mesh-"));
    const file = path.join(dir, "mesh.yaml");
    fs.writeFileSync(file, good);
    const src = createFileSource({ path: file, pollMs: 1_000_000, maxBytes: 4096 });
    const changes: SourceChange[] = [];
    const rejected: string[] = [];
    src.on("change", (c) => changes.push(c));
    src.on("rejected", (e) => rejected.push(e.error.message));
    try {
      for (const [text, pattern] of [
        ["", /mesh.yaml: the file is empty; a mesh with no services must say so with "allowEmpty: true"/],
        ["  \n\t\n", /the file is empty/],
        [`${good}#${"x".repeat(5000)}\n`, /mesh.yaml: the file is 5\d{3} bytes; the limit is 4096/],
        ["services: []\n", /lists no services; a mesh with no services must say so with "allowEmpty: true"/],
      ] as const) {
        fs.writeFileSync(file, text);
        await src.reload();
        assert.match(rejected.at(-1) ?? "", pattern);
        assert.equal(src.services().length, 2, "the last good services are still served");
        assert.equal(changes.length, 0);
      }
      fs.writeFileSync(file, "allowEmpty: true\nservices: []\n");
      await src.reload();
      assert.equal(src.services().length, 0, "an explicitly empty mesh is applied");
      assert.equal(src.allowsEmpty(), true);
      assert.deepEqual(changes.at(-1)?.kinds, ["services", "endpoints", "routes"]);
    } finally {
      src.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
    const empty = path.join(dir, "empty.yaml");
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(empty, "");
    assert.throws(() => createFileSource({ path: empty }), /empty.yaml: the file is empty/);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("reads a change only once the file has settled; truncate-then-write and atomic renames both work", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "xdskit-mesh-"));
    const file = path.join(dir, "mesh.yaml");
    fs.writeFileSync(file, good);
    const src = createFileSource({ path: file, pollMs: 10, settleMs: 300 });
    const seen: number[] = [];
    const rejected: string[] = [];
    src.on("change", () => seen.push(src.services().length));
    src.on("rejected", (e) => rejected.push(e.error.message));
    const until = async (cond: () => boolean, what: string) => {
      const deadline = Date.now() + 5000;
      while (!cond() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      assert.ok(cond(), what);
    };
    try {
      // An editor that truncates, then writes in two pieces: the empty file
      // and the first piece (valid YAML with one service) are never applied.
      const three = good.replace(
        "routes:",
        "  - name: third\n    endpoints: [{ address: 10.0.0.3, port: 80 }]\nroutes:",
      );
      const cut = three.indexOf("  - name: echo-v2");
      const fd = fs.openSync(file, "w");
      await new Promise((r) => setTimeout(r, 30));
      fs.writeSync(fd, three.slice(0, cut));
      await new Promise((r) => setTimeout(r, 30));
      fs.writeSync(fd, three.slice(cut));
      fs.closeSync(fd);
      await until(() => seen.length === 1, `the finished file is applied (rejected: ${rejected.join("; ")})`);
      assert.deepEqual(seen, [3], "only the whole file was applied");
      assert.deepEqual(rejected, []);

      // Atomic save: write a temporary file and rename it over the mesh file.
      const tmp = path.join(dir, ".mesh.yaml.tmp");
      fs.writeFileSync(tmp, good);
      fs.renameSync(tmp, file);
      await until(() => seen.length === 2, "the renamed file is applied");
      assert.deepEqual(seen, [3, 2]);
    } finally {
      src.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("parses off the main thread: a large file does not stall the event loop", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "xdskit-mesh-"));
    const file = path.join(dir, "mesh.yaml");
    fs.writeFileSync(file, good);
    const src = createFileSource({ path: file, pollMs: 1_000_000 });
    try {
      let big = "services:\n";
      for (let i = 0; i < 6000; i++) {
        big += `  - name: svc-${i}\n    endpoints:\n`;
        for (let j = 0; j < 4; j++)
          big += `      - { address: 10.${i >> 8}.${i & 255}.${j + 1}, port: 8080, weight: 2 }\n`;
      }
      fs.writeFileSync(file, big);
      // The event loop's longest gap while the file is read and parsed.
      let longest = 0;
      let last = performance.now();
      const tick = setInterval(() => {
        const now = performance.now();
        longest = Math.max(longest, now - last);
        last = now;
      }, 5);
      const inThread = performance.now();
      parseMeshFile(big, "mesh.yaml");
      const parseMs = performance.now() - inThread;
      last = performance.now();
      await src.reload();
      clearInterval(tick);
      assert.equal(src.services().length, 6000);
      assert.ok(
        longest < parseMs / 2,
        `the loop stalled ${longest.toFixed(0)} ms; parsing on it takes ${parseMs.toFixed(0)} ms`,
      );
    } finally {
      src.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
