// minimal-pilot as a user runs it: a real process with a mesh file, real echo
// backends, and a real @grpc/grpc-js-xds client calling xds:///echo.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import { callEcho, startEchoBackend } from "./echo.js";

const main = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../dist/main.js");

async function waitFor<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`);
}

async function sample(client: grpc.Client, n = 12): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    try {
      out.push(await callEcho(client, 2000));
    } catch (err) {
      out.push(`error:${(err as grpc.ServiceError).code}`);
    }
  }
  return out;
}

describe("minimal-pilot end to end", () => {
  let dir: string;
  let mesh: string;
  let pilot: ChildProcess;
  let output = "";
  let adminPort = 0;
  let client: grpc.Client;
  const backends: { port: number; stop: () => Promise<void> }[] = [];

  const write = (yaml: string) => fs.writeFileSync(mesh, yaml);
  const meshWith = (opts: { echoPorts: number[]; split?: [number, number]; withV2?: boolean }) => {
    const v2 = opts.withV2 ?? true;
    let y = `services:\n  - name: echo\n    endpoints:\n${opts.echoPorts.map((p) => `      - { address: 127.0.0.1, port: ${p} }`).join("\n")}\n`;
    y += `  - name: echo-v1\n    endpoints: [{ address: 127.0.0.1, port: ${backends[0]?.port} }]\n`;
    if (v2) y += `  - name: echo-v2\n    endpoints: [{ address: 127.0.0.1, port: ${backends[1]?.port} }]\n`;
    if (opts.split) {
      y += `routes:\n  - host: echo\n    split:\n      - { service: echo-v1, weight: ${opts.split[0]} }\n      - { service: echo-v2, weight: ${opts.split[1]} }\n`;
    }
    return y;
  };
  const admin = async (p: string) => {
    const res = await fetch(`http://127.0.0.1:${adminPort}${p}`);
    return { status: res.status, text: await res.text() };
  };

  before(async () => {
    backends.push(await startEchoBackend("backend-1"), await startEchoBackend("backend-2"));
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "minimal-pilot-"));
    mesh = path.join(dir, "mesh.yaml");
    write(meshWith({ echoPorts: [backends[0]?.port ?? 0] }));
    pilot = spawn(process.execPath, [main, "--port", "0", "--admin-port", "0", "--config", mesh, "--debounce", "20"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    pilot.stdout?.on("data", (d) => (output += d));
    pilot.stderr?.on("data", (d) => (output += d));
    const xdsPort = await waitFor("the xds port", () => output.match(/xds listening on 127\.0\.0\.1:(\d+)/)?.[1]);
    adminPort = Number(
      await waitFor("the admin port", () => output.match(/admin listening on 127\.0\.0\.1:(\d+)/)?.[1]),
    );
    process.env.GRPC_XDS_BOOTSTRAP_CONFIG = JSON.stringify({
      xds_servers: [
        { server_uri: `127.0.0.1:${xdsPort}`, channel_creds: [{ type: "insecure" }], server_features: ["xds_v3"] },
      ],
      node: { id: "e2e-client", cluster: "e2e", locality: { region: "local", zone: "a" } },
    });
    createRequire(import.meta.url)("@grpc/grpc-js-xds").register();
    client = new grpc.Client("xds:///echo", grpc.credentials.createInsecure());
  });

  after(async () => {
    client?.close();
    pilot?.kill("SIGTERM");
    await new Promise((r) => (pilot.exitCode !== null ? r(undefined) : pilot.once("exit", r)));
    for (const b of backends) await b.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("serves /healthz and a real client's calls through xds:///echo", async () => {
    assert.equal((await admin("/healthz")).status, 200);
    const seen = await waitFor("calls to succeed", async () => {
      const s = await sample(client, 5);
      return s.every((x) => x === "backend-1") ? s : undefined;
    });
    assert.equal(seen.length, 5);
    const conns = JSON.parse((await admin("/debug/connections")).text);
    assert.equal(conns.count, 1);
    assert.equal(conns.connections[0].nodeId, "e2e-client");
    assert.ok(conns.connections[0].types.every((t: { ackedVersion?: string }) => t.ackedVersion));
    const dump = JSON.parse((await admin("/debug/config_dump?node=e2e-client")).text);
    assert.ok(
      dump.config["type.googleapis.com/envoy.config.listener.v3.Listener"].resources.some(
        (r: { name: string }) => r.name === "echo",
      ),
    );
    assert.match((await admin("/metrics")).text, /pilot_xds 1/);
  });

  it("an added endpoint receives traffic", async () => {
    write(meshWith({ echoPorts: [backends[0]?.port ?? 0, backends[1]?.port ?? 0] }));
    await waitFor("both backends to answer", async () => {
      const s = await sample(client);
      return s.includes("backend-1") && s.includes("backend-2") ? s : undefined;
    });
  });

  it("a 100/0 split changed to 0/100 moves all traffic", async () => {
    write(meshWith({ echoPorts: [backends[0]?.port ?? 0], split: [100, 0] }));
    await waitFor("all traffic on v1", async () =>
      (await sample(client)).every((x) => x === "backend-1") ? true : undefined,
    );
    write(meshWith({ echoPorts: [backends[0]?.port ?? 0], split: [0, 100] }));
    await waitFor("all traffic on v2", async () =>
      (await sample(client)).every((x) => x === "backend-2") ? true : undefined,
    );
  });

  it("a broken file is reported while clients keep the last good config", async () => {
    fs.writeFileSync(mesh, `${meshWith({ echoPorts: [backends[0]?.port ?? 0], split: [0, 100] })}\nsurprise: true\n`);
    const err = await waitFor("the admin page to show the error", async () => {
      const m = JSON.parse((await admin("/debug/mesh")).text);
      return m.lastError ?? undefined;
    });
    assert.match(err, /mesh\.yaml: surprise: unknown key/);
    assert.match(output, /config rejected, still serving the last good one/);
    assert.ok((await sample(client)).every((x) => x === "backend-2"));
  });

  it("removing a service makes its calls fail once it is gone", async () => {
    write(meshWith({ echoPorts: [backends[0]?.port ?? 0], withV2: false }));
    const v2 = new grpc.Client("xds:///echo-v2", grpc.credentials.createInsecure());
    try {
      await waitFor("echo-v2 to be gone", async () =>
        (await sample(v2, 2)).every((x) => x.startsWith("error:")) ? true : undefined,
      );
      // echo itself keeps working, now without a split, on its own endpoint.
      await waitFor("echo to settle on backend-1", async () =>
        (await sample(client)).every((x) => x === "backend-1") ? true : undefined,
      );
    } finally {
      v2.close();
    }
  });

  it("a truncated (empty) mesh file is refused and clients keep their config", async () => {
    const before = JSON.parse((await admin("/debug/connections")).text).connections[0];
    fs.truncateSync(mesh, 0);
    const err = await waitFor("the admin page to show the refusal", async () => {
      const m = JSON.parse((await admin("/debug/mesh")).text);
      return /empty/.test(m.lastError ?? "") ? m.lastError : undefined;
    });
    assert.match(err, /mesh\.yaml: the file is empty/);
    await new Promise((r) => setTimeout(r, 400));
    const after = JSON.parse((await admin("/debug/connections")).text).connections[0];
    assert.deepEqual(
      after.types.map((t: { sentVersion: string }) => t.sentVersion),
      before.types.map((t: { sentVersion: string }) => t.sentVersion),
      "nothing was pushed",
    );
    assert.ok((await sample(client)).every((x) => x === "backend-1"));
    write(meshWith({ echoPorts: [backends[0]?.port ?? 0], withV2: false }));
    await waitFor("the error to clear", async () =>
      JSON.parse((await admin("/debug/mesh")).text).lastError === null ? true : undefined,
    );
  });

  it("a mesh file over --max-config-bytes is refused unread; the admin port keeps answering", async () => {
    const big = `${meshWith({ echoPorts: [backends[0]?.port ?? 0], withV2: false })}#${"x".repeat(20 * 1024 * 1024)}\n`;
    fs.writeFileSync(mesh, big);
    const err = await waitFor("the refusal", async () => {
      const m = JSON.parse((await admin("/debug/mesh")).text);
      return /limit/.test(m.lastError ?? "") ? m.lastError : undefined;
    });
    assert.match(err, /mesh\.yaml: the file is \d+ bytes; the limit is 8388608/);
    assert.equal((await admin("/healthz")).status, 200);
    assert.ok((await sample(client)).every((x) => x === "backend-1"));
  });

  it("admin pages answer GET and HEAD only, and list node groups", async () => {
    for (const method of ["DELETE", "POST", "PUT"]) {
      const res = await fetch(`http://127.0.0.1:${adminPort}/debug/mesh`, { method });
      assert.equal(res.status, 405, method);
      assert.equal(res.headers.get("allow"), "GET, HEAD");
    }
    const head = await fetch(`http://127.0.0.1:${adminPort}/healthz`, { method: "HEAD" });
    assert.equal(head.status, 200);
    const groups = JSON.parse((await admin("/debug/node_groups")).text);
    assert.deepEqual(
      groups.nodeGroups.map((g: { name: string; streams: number }) => [g.name, g.streams]),
      [["proxyless/e2e", 1]],
    );
  });
});
