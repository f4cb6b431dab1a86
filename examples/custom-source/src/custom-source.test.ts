// The example end to end, as CI runs it: its own process, its own inventory,
// a real grpc-js-xds client calling xds:///hello; an inventory change moves
// traffic, a broken inventory answer changes nothing, and the builder's
// per-service policy reaches the cluster.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { createRequire } from "node:module";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import type { Service } from "@xdskit/config-generator";
import { ECHO, startBackend } from "./backend.js";
import { startInventory, type Inventory } from "./inventory.js";

const MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../dist/main.js");

function call(client: grpc.Client): Promise<string> {
  return new Promise((resolve) =>
    client.makeUnaryRequest(
      ECHO,
      (b: Buffer) => b,
      (b: Buffer) => b,
      Buffer.from("hi"),
      new grpc.Metadata(),
      { deadline: Date.now() + 2000 },
      (err, v) => resolve(err ? `error:${err.code}` : String(v)),
    ),
  );
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const v = await fn();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe("examples/custom-source", () => {
  let inventory: Inventory;
  let child: ChildProcess;
  let out = "";
  let client: grpc.Client;
  const backends: { stop: () => void }[] = [];
  const ports: number[] = [];

  before(async () => {
    for (const name of ["hello-1", "hello-2"]) {
      const b = await startBackend(name);
      ports.push(b.port);
      backends.push(b);
    }
    inventory = await startInventory([
      {
        name: "hello",
        protocol: "grpc",
        metadata: { maxRequests: 42 },
        endpoints: [{ address: "127.0.0.1", port: ports[0] as number, labels: { version: "v1" } }],
        subsets: [{ name: "v1", labels: { version: "v1" } }],
      },
    ]);
    child = spawn(process.execPath, [MAIN, "--port", "0", "--admin-port", "0", "--inventory", inventory.url], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout?.on("data", (d) => (out += d));
    child.stderr?.on("data", (d) => (out += d));
    const xds = await waitFor("the xds port", () => out.match(/xds listening on 127\.0\.0\.1:(\d+)/)?.[1]);
    process.env.GRPC_XDS_BOOTSTRAP_CONFIG = JSON.stringify({
      xds_servers: [
        { server_uri: `127.0.0.1:${xds}`, channel_creds: [{ type: "insecure" }], server_features: ["xds_v3"] },
      ],
      node: { id: "custom-source-client", cluster: "demo", locality: { region: "local", zone: "a" } },
    });
    createRequire(import.meta.url)("@grpc/grpc-js-xds").register();
    client = new grpc.Client("xds:///hello", grpc.credentials.createInsecure());
  });

  after(async () => {
    client?.close();
    child?.kill("SIGTERM");
    await new Promise((r) => (child.exitCode !== null ? r(undefined) : child.once("exit", r)));
    await inventory?.close();
    for (const b of backends) b.stop();
  });

  it("serves what the inventory lists, follows its changes, and keeps the last good list when it breaks", async () => {
    await waitFor("calls to hello-1", async () => ((await call(client)) === "hello-1" ? true : undefined));
    const admin = Number(out.match(/admin listening on 127\.0\.0\.1:(\d+)/)?.[1]);
    const dump = (await (
      await fetch(`http://127.0.0.1:${admin}/debug/config_dump?node=custom-source-client`)
    ).json()) as {
      config: Record<
        string,
        { resources: { resource: { name: string; circuitBreakers: { thresholds: { maxRequests: number }[] } } }[] }
      >;
    };
    const clusters = dump.config["type.googleapis.com/envoy.config.cluster.v3.Cluster"]?.resources ?? [];
    assert.equal(clusters.length, 2, "the service's cluster and its subset's");
    for (const c of clusters) {
      assert.equal(
        c.resource.circuitBreakers.thresholds[0]?.maxRequests,
        42,
        `${c.resource.name}: the builder's policy from service metadata, on the subset's cluster too`,
      );
    }

    const moved: Service[] = [
      {
        name: "hello",
        protocol: "grpc",
        metadata: { maxRequests: 42 },
        endpoints: [{ address: "127.0.0.1", port: ports[1] as number }],
      },
    ];
    inventory.set(moved);
    await waitFor("calls to hello-2", async () => ((await call(client)) === "hello-2" ? true : undefined)).catch(
      (err) => {
        throw new Error(`${err.message}\n${out}`);
      },
    );

    inventory.set([{ name: "hello", endpoints: [{ address: "not an ip", port: 1 }] } as Service]);
    await waitFor("the refusal", () =>
      /inventory refused, keeping the last good list: .*must be an IPv4 or IPv6 address/.test(out) ? true : undefined,
    );
    assert.equal(await call(client), "hello-2", "the last good list is still served");
  });
});
