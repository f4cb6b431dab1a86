// The CLI run the way operators run it: the built bin in its own process.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { RawStream, rawClient, startServer, testNode } from "@xdskit/ads-server/testing";
import { createSnapshotRegistry } from "@xdskit/snapshot";
import { edsCluster, world } from "@xdskit/snapshot/testing";
import { TypeUrl } from "@xdskit/xds-types";
import { ListenerSchema } from "@xdskit/xds-types/gen/envoy/config/listener/v3/listener_pb";
import { messageFromJson } from "@xdskit/xds-types/registry";

const BIN = fileURLToPath(new URL("../bin/xdskit-adsc.js", import.meta.url));

interface Run {
  readonly child: ChildProcess;
  stdout: string;
  stderr: string;
  readonly exit: Promise<number>;
}

function adsc(args: readonly string[], timeoutMs = 20_000): Run {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  const run: Run = {
    child,
    stdout: "",
    stderr: "",
    exit: new Promise<number>((resolve) => {
      const t = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
      child.on("exit", (code) => {
        clearTimeout(t);
        resolve(code ?? -1);
      });
    }),
  };
  child.stdout?.on("data", (b: Buffer) => {
    run.stdout += b.toString();
  });
  child.stderr?.on("data", (b: Buffer) => {
    run.stderr += b.toString();
  });
  return run;
}

async function until(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("xdskit-adsc CLI", () => {
  let env: Awaited<ReturnType<typeof startServer>>;
  let server: string;
  before(async () => {
    env = await startServer();
    server = `127.0.0.1:${env.port}`;
  });
  after(async () => {
    await env.close();
  });

  it("watch prints an update when the snapshot changes", async () => {
    env.registry.setSnapshot("watcher", { [TypeUrl.Cluster]: [edsCluster("first")] });
    const run = adsc(["watch", "--server", server, "--node", "watcher", "--type", "cds", "--json", "--count", "2"]);
    await until("the first update", () => run.stdout.includes("first"));
    env.registry.updateResources("watcher", TypeUrl.Cluster, { upsert: [edsCluster("second")] });
    assert.equal(await run.exit, 0, run.stderr);
    const lines = run.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { type: string; upserted: string[] });
    assert.equal(lines.length, 2);
    assert.equal(lines[0]?.type, "CDS");
    assert.deepEqual(lines[0]?.upserted, ["first"]);
    assert.ok(lines[1]?.upserted.includes("second"));
  });

  it("watch over Delta prints the same kind of table rows", async () => {
    env.registry.setSnapshot("delta-watcher", world(1));
    const run = adsc(["watch", "-s", server, "-n", "delta-watcher", "--delta", "-t", "lds,cds", "--count", "2"]);
    assert.equal(await run.exit, 0, run.stderr);
    assert.match(run.stdout, /LDS\s+\S+\s+\+svc-0/);
    assert.match(run.stdout, /CDS\s+\S+\s+\+svc-0/);
  });

  it("dump prints the node's config as JSON that decodes back into xDS messages", async () => {
    env.registry.setSnapshot("dumped", world(2));
    const run = adsc(["dump", "--server", server, "--node", "dumped"]);
    assert.equal(await run.exit, 0, run.stderr);
    const dump = JSON.parse(run.stdout) as {
      node: string;
      configs: { typeUrl: string; resources: { resource: never }[] }[];
    };
    assert.equal(dump.node, "dumped");
    assert.equal(dump.configs.length, 4);
    const listeners = dump.configs.find((c) => c.typeUrl === TypeUrl.Listener)?.resources ?? [];
    const decoded = listeners.map((r) => messageFromJson(ListenerSchema, r.resource));
    assert.deepEqual(
      decoded.map((l) => l.name),
      ["svc-0", "svc-1"],
    );
  });

  it("status shows what a connected client ACKed", async () => {
    env.registry.setSnapshot("observed", world(1));
    const client = rawClient(env.port);
    const s = new RawStream(client);
    s.send({ node: testNode("observed"), typeUrl: TypeUrl.Cluster });
    s.ack(await s.next());
    await new Promise((r) => setTimeout(r, 100));
    try {
      const run = adsc(["status", "--server", server, "--of", "observed"]);
      assert.equal(await run.exit, 0, run.stderr);
      assert.match(run.stdout, /^observed {2}scope=observed/m);
      assert.match(run.stdout, /CDS\s+svc-0\s+ACKED/);
      const none = adsc(["status", "--server", server, "--of", "nobody"]);
      assert.equal(await none.exit, 0);
      assert.match(none.stdout, /no client with node id "nobody"/);
    } finally {
      s.close();
      client.close();
    }
  });

  it("load opens N streams and reports time to full config and throughput", async () => {
    // Every load stream has its own node id; this server puts them all in one group.
    const shared = await startServer({ registry: createSnapshotRegistry({ nodeGroup: () => "fleet" }) });
    shared.registry.setSnapshot("fleet", world(5));
    try {
      const run = adsc([
        "load",
        "-s",
        `127.0.0.1:${shared.port}`,
        "--streams",
        "20",
        "--per-channel",
        "5",
        "-t",
        "cds,lds",
        "--json",
      ]);
      assert.equal(await run.exit, 0, run.stderr);
      const summary = JSON.parse(run.stdout) as {
        streams: number;
        types: string[];
        responses: number;
        fullConfigMs: { p50: number; p99: number };
      };
      assert.equal(summary.streams, 20);
      assert.deepEqual(summary.types, ["CDS", "LDS"]);
      assert.ok(summary.responses >= 40);
      assert.ok(summary.fullConfigMs.p50 > 0 && summary.fullConfigMs.p99 >= summary.fullConfigMs.p50);

      const text = adsc(["load", "-s", `127.0.0.1:${shared.port}`, "--streams", "5", "--delta"]);
      assert.equal(await text.exit, 0, text.stderr);
      assert.match(text.stdout, /5 streams \(CDS, LDS, Delta\): time to full config p50 [\d.]+ ms/);
    } finally {
      await shared.close();
    }
    // Streams whose node group has no config never complete: a timeout, exit 1.
    const starved = adsc(["load", "-s", server, "--streams", "3", "--timeout", "500"]);
    assert.equal(await starved.exit, 1);
    assert.match(starved.stderr, /0 of 3 streams had a full config after 500 ms/);
  });

  it("errors say what to fix and exit non-zero", async () => {
    const refused = adsc(["status", "--server", "127.0.0.1:1"]);
    assert.equal(await refused.exit, 1);
    assert.match(refused.stderr, /cannot reach 127\.0\.0\.1:1: connection refused/);

    const badType = adsc(["watch", "--server", server, "--type", "xyz"]);
    assert.equal(await badType.exit, 2);
    assert.match(badType.stderr, /unknown type "xyz"; expected one of cds, eds, lds, rds/);

    const badAddress = adsc(["dump", "--server", "localhost"]);
    assert.equal(await badAddress.exit, 2);
    assert.match(badAddress.stderr, /"localhost" is not a server address; expected host:port/);

    const unknownCommand = adsc(["frobnicate"]);
    assert.equal(await unknownCommand.exit, 2);
    assert.match(unknownCommand.stderr, /unknown command 'frobnicate'/);

    const help = adsc(["--help"]);
    assert.equal(await help.exit, 0);
    assert.match(help.stdout, /watch .*\n.*dump|Commands:/s);
  });

  it("presents the node it is told: --proxyless, --metadata, --locality; status --contents shows resources", async () => {
    env.registry.setSnapshot("as-proxyless", world(2));
    const seen: import("@xdskit/xds-types/gen/envoy/config/core/v3/base_pb").Node[] = [];
    env.server.on("connect", (e) => seen.push(e.node));
    const w = adsc([
      "watch",
      "--server",
      server,
      "--node",
      "as-proxyless",
      "--type",
      "cds",
      "--count",
      "1",
      "--json",
      "--proxyless",
      "--metadata",
      "NAMESPACE=default",
      "--metadata",
      "TEAM=a=b",
      "--locality",
      "eu/eu-1/rack-2",
    ]);
    assert.equal(await w.exit, 0, w.stderr);
    const node = seen.find((n) => n.id === "as-proxyless");
    assert.match(node?.userAgentName ?? "", /gRPC/);
    assert.ok(node?.clientFeatures.includes("xds.config.resource-in-sotw"));
    assert.deepEqual(node?.metadata, { NAMESPACE: "default", TEAM: "a=b" });
    assert.deepEqual([node?.locality?.region, node?.locality?.zone, node?.locality?.subZone], ["eu", "eu-1", "rack-2"]);

    const stream = new RawStream(rawClient(env.port));
    stream.send({ node: testNode("as-proxyless"), typeUrl: TypeUrl.Cluster });
    stream.ack(await stream.next());
    await new Promise((r) => setTimeout(r, 200));
    const st = adsc(["status", "--server", server, "--of", "as-proxyless", "--contents", "--json"]);
    assert.equal(await st.exit, 0, st.stderr);
    const rows = JSON.parse(st.stdout) as { resources: { content?: { "@type": string; name: string } }[] }[];
    const content = rows[0]?.resources.find((r) => r.content)?.content;
    assert.equal(content?.["@type"], TypeUrl.Cluster);
    assert.match(content?.name ?? "", /^svc-/);
    const bad = adsc(["watch", "--server", server, "--metadata", "novalue"]);
    assert.equal(await bad.exit, 2);
    assert.match(bad.stderr, /--metadata takes key=value, got "novalue"/);
    stream.close();
  });

  it("speaks TLS to an IP address without Node's server-name warning", async () => {
    const { createTestPki } = await import("@xdskit/ads-server/testing");
    const { createAdsServer, tlsServerCredentials } = await import("@xdskit/ads-server");
    const pki = createTestPki();
    const ca = pki.ca("cli-ca");
    const cert = pki.server(ca, "cli-server");
    const registry = createSnapshotRegistry();
    registry.setSnapshot("tls-node", world(1));
    const ads = createAdsServer({ registry });
    const port = await ads.listen("127.0.0.1:0", tlsServerCredentials({ certFile: cert.cert, keyFile: cert.key }));
    try {
      const w = adsc([
        "watch",
        "--server",
        `127.0.0.1:${port}`,
        "--ca",
        ca.cert,
        "--node",
        "tls-node",
        "--type",
        "cds",
        "--count",
        "1",
      ]);
      assert.equal(await w.exit, 0, w.stderr);
      assert.doesNotMatch(w.stderr, /ServerName|DEP0123/);
    } finally {
      await ads.shutdown(500);
      pki.remove();
    }
  });
});
