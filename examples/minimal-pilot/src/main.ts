// minimal-pilot: a runnable control plane built from xdskit.
//   mesh (built-in or a watched file) → DiscoveryController → ADS server → xds:/// clients
// Run: npm start [-- --port 15010 --admin-port 15014 --config mesh.yaml]; --help lists every flag.
import { assertSafeBind, startAdminServer } from "@xdskit/admin";
import { createAdsServer, secretsByNamespace, spiffeNodePolicy, tlsServerCredentials } from "@xdskit/ads-server";
import { createPromMetrics } from "@xdskit/ads-server/prom";
import {
  type FileSource,
  type MemorySource,
  type SecretsDirSource,
  DefaultConfigGenerator,
  createDiscoveryController,
  createFileSource,
  createMemorySource,
  createSecretsDirSource,
} from "@xdskit/config-generator";
import { createControllerMetrics } from "@xdskit/config-generator/prom";
import { type EtcdSource, createEtcdSource } from "@xdskit/source-etcd";
import { createEtcdSourceMetrics } from "@xdskit/source-etcd/prom";
import { TypeUrl } from "@xdskit/xds-types";
import client from "prom-client";
import { startEchoBackend } from "./echo.js";
import { type PilotOptions, USAGE, UsageError, parseOptions } from "./options.js";

function fail(message: string, code = 1): never {
  console.error(`minimal-pilot: ${message}`);
  process.exit(code);
}

function securityLine(o: PilotOptions, xds: string): string {
  if (!o.tls) {
    return `security: the xDS port ${xds} is plaintext and serves any client that reaches it (give --tls-cert/--tls-key, and --client-ca for mTLS; docs/security.md)`;
  }
  if (!o.tls.clientCaFile)
    return `security: the xDS port ${xds} speaks TLS; clients are not authenticated (give --client-ca for mTLS)`;
  return `security: mTLS on ${xds}; a client's SPIFFE ID (trust domain ${o.trustDomain}) must match its node's namespace and service account`;
}

async function main(): Promise<void> {
  let o: PilotOptions | undefined;
  try {
    o = parseOptions(process.argv.slice(2));
  } catch (err) {
    if (err instanceof UsageError) fail(`${err.message}\n\n${USAGE}`, 2);
    throw err;
  }
  if (!o) {
    console.log(USAGE);
    return;
  }
  try {
    assertSafeBind(o.adminHost, o.adminToken);
  } catch (err) {
    fail((err as Error).message, 2);
  }
  const log = o.verbose
    ? {
        debug: (m: string, f?: object) => console.log(`debug ${m}`, f ?? ""),
        info: (m: string, f?: object) => console.log(`info  ${m}`, f ?? ""),
        warn: (m: string, f?: object) => console.warn(`warn  ${m}`, f ?? ""),
        error: (m: string, f?: object) => console.error(`error ${m}`, f ?? ""),
      }
    : undefined;

  const stops: (() => Promise<void> | void)[] = [];
  const echoPorts: number[] = [];
  for (let i = 1; i <= o.backends; i++) {
    const b = await startEchoBackend(`backend-${i}`, o.host);
    echoPorts.push(b.port);
    stops.push(b.stop);
    console.log(`echo backend-${i} listening on ${o.host}:${b.port}`);
  }

  const metrics = new client.Registry();
  client.collectDefaultMetrics({ register: metrics });

  let file: FileSource | undefined;
  let etcd: EtcdSource | undefined;
  let source: FileSource | MemorySource | EtcdSource;
  if (o.etcd) {
    let s: EtcdSource;
    try {
      s = createEtcdSource({ endpoints: o.etcd, prefix: o.etcdPrefix, tls: o.etcdTls });
    } catch (err) {
      fail((err as Error).message);
    }
    etcd = s;
    source = s;
    stops.push(() => s.close());
    // Not ready (and serving nothing) until etcd was read; then keeps the last good mesh through outages.
    s.on("connection", (e) => {
      if (e.connected)
        console.log(
          `etcd: ${s.ready() ? "connected to" : "reading"} ${o.etcd?.join(",")} ${o.etcdPrefix} at revision ${e.revision}`,
        );
      else console.warn(`etcd: lost (${e.error}); serving the last good mesh and retrying`);
    });
    s.on("rejected", (e) => console.error(`etcd: ${e.reason}: ${e.error.message}`));
    createEtcdSourceMetrics(s, { registry: metrics });
  } else if (o.config) {
    try {
      file = createFileSource({ path: o.config, ...(o.maxConfigBytes ? { maxBytes: o.maxConfigBytes } : {}) });
    } catch (err) {
      fail((err as Error).message);
    }
    source = file;
    stops.push(() => file?.close());
  } else {
    const mem = createMemorySource();
    mem.setService({ name: "echo", endpoints: echoPorts.map((p) => ({ address: o.host, port: p })) });
    source = mem;
  }

  const generator = new DefaultConfigGenerator();
  let secrets: SecretsDirSource | undefined;
  if (o.secretsDir) {
    try {
      secrets = createSecretsDirSource({ dir: o.secretsDir });
    } catch (err) {
      fail((err as Error).message);
    }
    const dir = secrets;
    generator.registerBuilder(TypeUrl.Secret, () => dir.secrets(), { shared: true });
    stops.push(() => dir.close());
    console.log(
      `secrets: ${secrets.secrets().length} from ${o.secretsDir}${o.tls?.clientCaFile ? "" : " (served to nobody without --client-ca: a secret goes only to a client that proved its namespace)"}`,
    );
  }

  const controller = createDiscoveryController({
    services: source,
    config: source,
    generator,
    debounceMs: o.debounceMs,
    ...(o.groupByLocality ? { groupBy: { locality: true } } : {}),
    ...(secrets ? { sources: [secrets] } : {}),
    ...(log ? { logger: log } : {}),
  });
  stops.push(() => controller.close());
  createControllerMetrics(controller, { registry: metrics });
  controller.on("push", (e) => {
    console.log(
      `push: ${e.reasons.join("; ")} → ${e.types.join(",")} for ${e.nodeGroups} node group(s), ${e.resourcesChanged} type(s) changed`,
    );
  });
  controller.on("sourceRejected", (e) => {
    console.error(`minimal-pilot: config rejected, still serving the last good one: ${e.error.message}`);
  });
  controller.on("nodeGroupRemoved", (e) => console.log(`node group ${e.nodeGroup} removed: ${e.reason}`));
  controller.on("pushFailed", (e) => console.error(`push failed for ${e.nodeGroup}: ${e.error.message}`));

  const mtls = o.tls?.clientCaFile !== undefined;
  const ads = createAdsServer({
    registry: controller.registry,
    metrics: createPromMetrics({ registry: metrics }),
    controlPlaneId: "xdskit-minimal-pilot",
    ...(mtls ? { authorize: spiffeNodePolicy({ trustDomain: o.trustDomain }) } : {}),
    // Secrets go only to clients that proved their namespace.
    authorizeResource: secretsByNamespace,
    ...(log ? { logger: log } : {}),
  });
  ads.on("connect", (e) =>
    console.log(
      `connected: ${e.connection.nodeId} (${e.connection.nodeGroup}) from ${e.connection.peer}${e.connection.identity?.spiffeId ? ` as ${e.connection.identity.spiffeId}` : ""}`,
    ),
  );
  ads.on("disconnect", (e) => console.log(`disconnected: ${e.connection.nodeId}: ${e.reason}`));
  ads.on("nack", (e) => console.warn(`NACK from ${e.connection.nodeId} for ${e.typeUrl}: ${e.errorMessage}`));
  ads.on("denied", (e) => console.warn(`denied: ${e.nodeId} from ${e.peer}: ${e.reason}`));

  let credentials: ReturnType<typeof tlsServerCredentials> | undefined;
  if (o.tls) {
    try {
      credentials = tlsServerCredentials({
        certFile: o.tls.certFile,
        keyFile: o.tls.keyFile,
        ...(o.tls.clientCaFile ? { clientCaFile: o.tls.clientCaFile } : {}),
        onError: (err) =>
          console.error(
            `minimal-pilot: TLS files changed but cannot be used; still using the previous ones: ${err.message}`,
          ),
      });
    } catch (err) {
      fail((err as Error).message);
    }
  }
  let ready = false;
  const boundXds = await ads.listen(`${o.host}:${o.port}`, credentials).catch((err: Error) => fail(err.message));
  console.log(`xds listening on ${o.host}:${boundXds}`);
  console.log(securityLine(o, `${o.host}:${boundXds}`));

  const admin = await startAdminServer({
    ads,
    controller,
    metrics,
    source: () =>
      etcd
        ? {
            lastError: etcd.status().lastError ?? null,
            status: { etcd: o.etcd, prefix: o.etcdPrefix, ...etcd.status() },
          }
        : { file: file?.path ?? null, lastError: file?.lastError?.message ?? null },
    ready: () => ready,
    host: o.adminHost,
    port: o.adminPort,
    ...(o.adminToken ? { token: o.adminToken } : {}),
  }).catch((err: Error) => fail(err.message));
  console.log(`admin listening on ${o.adminHost}:${admin.port}${o.adminToken ? " (token required)" : ""}`);
  ready = true;
  console.log(`\nminimal-pilot is serving. Try:
  curl http://${o.adminHost}:${admin.port}/debug/connections
  node examples/minimal-pilot/dist/client.js --xds ${o.host}:${boundXds} --target xds:///echo --count 5\n`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: shutting down`);
    ready = false;
    await ads.shutdown(3000);
    await admin.close();
    for (const s of stops) await s();
    process.exit(0);
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
}

main().catch((err: unknown) => fail(err instanceof Error ? err.message : String(err)));
