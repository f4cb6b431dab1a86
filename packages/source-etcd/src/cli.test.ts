// xdskit-mesh as a user runs it (the committed bin, a real etcd): put, get,
// prune, and the exit codes for a usage mistake (2) and a refusal (1).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { Etcd3 } from "etcd3";
import { parse } from "yaml";
import { etcdMissing, startTestEtcd, type TestEtcd } from "./testing/index.js";

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../bin/xdskit-mesh.js");
const MESH = `services:
  - name: echo
    protocol: grpc
    endpoints:
      - { address: 10.0.0.1, port: 8080 }
  - name: db
    protocol: tcp
    port: 5432
    endpoints:
      - { address: 10.0.0.2, port: 5432 }
routes:
  - host: echo
    split:
      - { service: echo, weight: 1 }
`;

function mesh(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8", timeout: 30_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe("xdskit-mesh (real etcd)", () => {
  let etcd: TestEtcd;
  let client: Etcd3;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "xdskit-mesh-cli-"));
  const file = (name: string, text: string) => {
    const p = path.join(dir, name);
    fs.writeFileSync(p, text);
    return p;
  };

  before(async () => {
    const missing = etcdMissing();
    if (missing) throw new Error(missing);
    etcd = await startTestEtcd();
    client = new Etcd3({ hosts: etcd.url });
  });

  after(async () => {
    client?.close();
    await etcd?.remove();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("puts a mesh file as one key per entry, leaves unchanged keys alone, and gets it back", async () => {
    const f = file("mesh.yaml", MESH);
    const put = mesh("put", "--etcd", etcd.url, f);
    assert.equal(put.code, 0, put.err);
    assert.match(put.out, /put \/xdskit\/: 3 key\(s\) written, 0 unchanged, 0 deleted/);
    assert.deepEqual(Object.keys(await client.getAll().prefix("/xdskit/").strings()).sort(), [
      "/xdskit/routes/echo",
      "/xdskit/services/db",
      "/xdskit/services/echo",
    ]);
    const again = mesh("put", "--etcd", etcd.url, f);
    assert.match(again.out, /0 key\(s\) written, 3 unchanged/);
    const got = mesh("get", "--etcd", etcd.url);
    assert.equal(got.code, 0, got.err);
    const back = parse(got.out) as { services: { name: string }[]; routes: { host: string }[] };
    assert.deepEqual(back.services.map((s) => s.name).sort(), ["db", "echo"]);
    assert.deepEqual(
      back.routes.map((r) => r.host),
      ["echo"],
    );
    const out = path.join(dir, "dump.json");
    assert.equal(mesh("get", "--etcd", etcd.url, "--json", "-o", out).code, 0);
    assert.deepEqual(JSON.parse(fs.readFileSync(out, "utf8")), JSON.parse(JSON.stringify(back)));
  });

  it("writes a service that declares no port with its first endpoint's port, and keeps it when the endpoint moves", async () => {
    const stored = async () =>
      JSON.parse((await client.get("/pins/services/echo").string()) ?? "{}") as { port?: number };
    assert.equal(mesh("put", "--etcd", etcd.url, "--prefix", "/pins/", file("pin1.yaml", MESH)).code, 0);
    assert.equal((await stored()).port, 8080, "pinned from the first endpoint");
    const moved = file(
      "pin2.yaml",
      MESH.replace("{ address: 10.0.0.1, port: 8080 }", "{ address: 10.0.0.9, port: 9090 }"),
    );
    const put = mesh("put", "--etcd", etcd.url, "--prefix", "/pins/", moved);
    assert.match(put.out, /1 key\(s\) written/);
    assert.equal(
      (await stored()).port,
      8080,
      "the stored port stays: every replica agrees and the cluster keeps its name",
    );
  });

  it("prunes the keys a smaller file no longer has, under its own prefix only", async () => {
    const full = file("full.yaml", MESH);
    assert.equal(mesh("put", "--etcd", etcd.url, "--prefix", "/team-a/", full).code, 0);
    const small = file("small.yaml", MESH.slice(0, MESH.indexOf("  - name: db")));
    const pruned = mesh("put", "--etcd", etcd.url, "--prefix", "/team-a/", "--prune", small);
    assert.equal(pruned.code, 0, pruned.err);
    assert.match(pruned.out, /0 key\(s\) written, 1 unchanged, 2 deleted/);
    assert.deepEqual(Object.keys(await client.getAll().prefix("/team-a/").strings()), ["/team-a/services/echo"]);
    assert.ok(await client.get("/xdskit/services/db").string(), "another prefix is untouched");
  });

  it("refuses a bad mesh file with its path (exit 1) and writes nothing", async () => {
    const before = await client.getAll().prefix("/xdskit/").strings();
    const bad = file("bad.yaml", MESH.replace("port: 8080", "port: 80800"));
    const r = mesh("put", "--etcd", etcd.url, bad);
    assert.equal(r.code, 1);
    assert.match(r.err, /bad\.yaml/);
    assert.match(r.err, /services\[0\]\.endpoints\[0\]\.port/);
    assert.deepEqual(await client.getAll().prefix("/xdskit/").strings(), before);
    const missingFile = mesh("put", "--etcd", etcd.url, path.join(dir, "nope.yaml"));
    assert.equal(missingFile.code, 1);
    assert.match(missingFile.err, /cannot read .*nope\.yaml/);
  });

  it("says what a usage mistake is (exit 2), and when etcd does not answer (exit 1)", () => {
    const cases: [string[], RegExp][] = [
      [["list", "--etcd", "http://127.0.0.1:1"], /expected put or get, got "list"/],
      [["get"], /--etcd is required/],
      [["get", "--etcd", "127.0.0.1:2379"], /expected URLs like http:\/\/127\.0\.0\.1:2379/],
      [["get", "--etcd", "http://127.0.0.1:1", "--prefix", "xdskit"], /prefix/],
      [["put", "--etcd", "http://127.0.0.1:1"], /put needs the mesh file/],
    ];
    for (const [args, message] of cases) {
      const r = mesh(...args);
      assert.equal(r.code, 2, args.join(" "));
      assert.match(r.err, message, args.join(" "));
      assert.match(r.err, /usage: xdskit-mesh put/);
    }
    assert.equal(mesh("--help").code, 0);
    const down = mesh("get", "--etcd", "http://127.0.0.1:1");
    assert.equal(down.code, 1, down.err);
    assert.match(down.err, /etcd at http:\/\/127\.0\.0\.1:1 did not answer/);
  });
});
