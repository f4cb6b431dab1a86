// minimal-pilot: a runnable control plane built from xdskit.
//   mesh (built-in or a watched file) → DiscoveryController → ADS server → xds:/// clients
// Run: npm start [-- --port 15010 --admin-port 15014 --config mesh.yaml]
import http from "node:http";
import { parseArgs } from "node:util";
import { createAdsServer } from "@xdskit/ads-server";
import { createPromMetrics } from "@xdskit/ads-server/prom";
import {
  createDiscoveryController,
  createFileSource,
  createMemorySource,
  type FileSource,
  type MemorySource,
} from "@xdskit/config-generator";
import client from "prom-client";
import { adminHandler } from "./admin.js";
import { startEchoBackend } from "./echo.js";

const USAGE = `usage: npm start -- [options]

  --port N          xDS gRPC port (default 15010; 0 picks a free one)
  --admin-port N    admin HTTP port: /healthz /metrics /debug/connections /debug/config_dump?node=ID (default 15014)
  --host ADDR       address to bind both servers to (default 127.0.0.1)
  --config FILE     a mesh file (YAML or JSON), watched for changes; see docs/mesh-file.md
  --max-config-bytes N
                    largest mesh file accepted (default 8388608); a bigger one is refused
  --backends N      demo echo backends to start on loopback (default 2 without --config, 0 with it)
  --debounce MS     push debounce quiet period (default 100)
  --verbose         log what happens
  --help            this text`;

function port(value: string | undefined, fallback: number, flag: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    console.error(`minimal-pilot: ${flag} must be a port number from 0 to 65535, got "${value}"`);
    process.exit(2);
  }
  return n;
}

async function main(): Promise<void> {
  let values: ReturnType<typeof parse>["values"];
  function parse() {
    return parseArgs({
      options: {
        port: { type: "string" },
        "admin-port": { type: "string" },
        host: { type: "string", default: "127.0.0.1" },
        config: { type: "string" },
        "max-config-bytes": { type: "string" },
        backends: { type: "string" },
        debounce: { type: "string", default: "100" },
        verbose: { type: "boolean", default: false },
        help: { type: "boolean", default: false },
      },
    });
  }
  try {
    values = parse().values;
  } catch (err) {
    console.error(`minimal-pilot: ${(err as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const host = values.host ?? "127.0.0.1";
  const xdsPort = port(values.port, 15010, "--port");
  const adminPort = port(values["admin-port"], 15014, "--admin-port");
  const backends = Number(values.backends ?? (values.config ? 0 : 2));
  const log = values.verbose
    ? {
        debug: (m: string, f?: object) => console.log(`debug ${m}`, f ?? ""),
        info: (m: string, f?: object) => console.log(`info  ${m}`, f ?? ""),
        warn: (m: string, f?: object) => console.warn(`warn  ${m}`, f ?? ""),
        error: (m: string, f?: object) => console.error(`error ${m}`, f ?? ""),
      }
    : undefined;

  const stops: (() => Promise<void>)[] = [];
  const echoPorts: number[] = [];
  for (let i = 1; i <= backends; i++) {
    const b = await startEchoBackend(`backend-${i}`, host);
    echoPorts.push(b.port);
    stops.push(b.stop);
    console.log(`echo backend-${i} listening on ${host}:${b.port}`);
  }

  let file: FileSource | undefined;
  let source: FileSource | MemorySource;
  if (values.config) {
    try {
      const maxBytes = values["max-config-bytes"] === undefined ? undefined : Number(values["max-config-bytes"]);
      if (maxBytes !== undefined && !(Number.isInteger(maxBytes) && maxBytes > 0)) {
        console.error(
          `minimal-pilot: --max-config-bytes must be a positive whole number, got "${values["max-config-bytes"]}"`,
        );
        process.exit(2);
      }
      file = createFileSource({ path: values.config, ...(maxBytes ? { maxBytes } : {}) });
    } catch (err) {
      console.error(`minimal-pilot: ${(err as Error).message}`);
      process.exit(1);
    }
    source = file;
  } else {
    const mem = createMemorySource();
    mem.setService({ name: "echo", endpoints: echoPorts.map((p) => ({ address: host, port: p })) });
    source = mem;
  }

  const metrics = new client.Registry();
  client.collectDefaultMetrics({ register: metrics });
  const pushes = new client.Counter({
    name: "xdskit_pushes",
    help: "Pushes run by the controller.",
    registers: [metrics],
  });
  const pushTime = new client.Histogram({
    name: "xdskit_push_duration_seconds",
    help: "Time to rebuild every node group.",
    registers: [metrics],
  });
  const configRejects = new client.Counter({
    name: "xdskit_config_rejects",
    help: "Source inputs refused.",
    registers: [metrics],
  });

  const controller = createDiscoveryController({
    services: source,
    config: source,
    debounceMs: Number(values.debounce),
    ...(log ? { logger: log } : {}),
  });
  controller.on("push", (e) => {
    pushes.inc();
    pushTime.observe(e.durationMs / 1000);
    console.log(
      `push: ${e.reasons.join("; ")} → ${e.types.join(",")} for ${e.nodeGroups} node group(s), ${e.resourcesChanged} type(s) changed`,
    );
  });
  controller.on("sourceRejected", (e) => {
    configRejects.inc();
    console.error(`minimal-pilot: config rejected, still serving the last good one: ${e.error.message}`);
  });
  controller.on("nodeGroupRemoved", (e) => console.log(`node group ${e.nodeGroup} removed: ${e.reason}`));
  controller.on("pushFailed", (e) => console.error(`push failed for ${e.nodeGroup}: ${e.error.message}`));

  const ads = createAdsServer({
    registry: controller.registry,
    metrics: createPromMetrics({ registry: metrics }),
    controlPlaneId: "xdskit-minimal-pilot",
    ...(log ? { logger: log } : {}),
  });
  ads.on("connect", (e) =>
    console.log(`connected: ${e.connection.nodeId} (${e.connection.nodeGroup}) from ${e.connection.peer}`),
  );
  ads.on("disconnect", (e) => console.log(`disconnected: ${e.connection.nodeId}: ${e.reason}`));
  ads.on("nack", (e) => console.warn(`NACK from ${e.connection.nodeId} for ${e.typeUrl}: ${e.errorMessage}`));

  let ready = false;
  const boundXds = await ads.listen(`${host}:${xdsPort}`).catch((err: Error) => {
    console.error(`minimal-pilot: ${err.message}`);
    process.exit(1);
  });
  console.log(`xds listening on ${host}:${boundXds}`);

  const admin = http.createServer(adminHandler({ ads, controller, metrics, file, ready: () => ready }));
  await new Promise<void>((resolve) => {
    admin.once("error", (err) => {
      console.error(`minimal-pilot: cannot listen on ${host}:${adminPort} for the admin server: ${err.message}`);
      process.exit(1);
    });
    admin.listen(adminPort, host, resolve);
  });
  const boundAdmin = (admin.address() as { port: number }).port;
  console.log(`admin listening on ${host}:${boundAdmin}`);
  ready = true;
  console.log(`\nminimal-pilot is serving. Try:
  curl http://${host}:${boundAdmin}/debug/connections
  node examples/minimal-pilot/dist/client.js --xds ${host}:${boundXds} --target xds:///echo --count 5\n`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: shutting down`);
    ready = false;
    controller.close();
    file?.close();
    await ads.shutdown(3000);
    await new Promise<void>((r) => admin.close(() => r()));
    admin.closeAllConnections();
    for (const s of stops) await s();
    process.exit(0);
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
}

main().catch((err: unknown) => {
  console.error(`minimal-pilot: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
