// minimal-pilot: a runnable control plane built from xdskit.
//   mesh (built-in or a watched file) → DiscoveryController → ADS server → xds:/// clients
// Run: npm start [-- --port 15010 --admin-port 15014 --config mesh.yaml]; --help lists every flag.
import { assertSafeBind, startAdminServer } from "@xdskit/admin";
import {
  type Authorizer,
  createAdsServer,
  spiffeNodePolicy,
  tlsServerCredentials,
  tuneHeapGrowth,
} from "@xdskit/ads-server";
import { createPromMetrics } from "@xdskit/ads-server/prom";
import {
  type SecretsDirSource,
  DefaultConfigGenerator,
  createDiscoveryController,
  createSecretsDirSource,
} from "@xdskit/config-generator";
import { createControllerMetrics } from "@xdskit/config-generator/prom";
import { TypeUrl } from "@xdskit/xds-types";
import client from "prom-client";
import { startEchoBackend } from "./echo.js";
import { type PilotOptions, USAGE, UsageError, parseOptions } from "./options.js";
import { openMeshSecurity } from "./mesh-security.js";
import { type PilotSources, openSources } from "./sources.js";

function fail(message: string, code = 1): never {
  console.error(`minimal-pilot: ${message}`);
  process.exit(code);
}

/**
 * The authorization hook: mTLS identities (with --client-ca) and, with
 * Kubernetes, the pod at a node's IP — and with --mesh-ca, a service-account
 * token proves a sidecar's identity (TokenReview) when it shows no certificate.
 */
async function authorizer(o: PilotOptions, sources: PilotSources): Promise<{ authorize?: Authorizer }> {
  const mtls = o.tls?.clientCaFile !== undefined ? spiffeNodePolicy({ trustDomain: o.trustDomain }) : undefined;
  if (sources.kube) {
    const { podNodePolicy, serviceAccountTokenPolicy } = await import("@xdskit/source-kubernetes");
    const kube = sources.kube;
    const pods = podNodePolicy(kube, mtls);
    if (!o.meshCa) return { authorize: pods };
    const tokens = serviceAccountTokenPolicy({ kubeConfig: kube.kubeConfig, trustDomain: o.trustDomain, next: pods });
    return { authorize: tokens as Authorizer };
  }
  return mtls ? { authorize: mtls } : {};
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
  // The pilot is the program, so it may set a process-wide V8 option.
  if (o.heapGrowthPercent > 0) tuneHeapGrowth(o.heapGrowthPercent);
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

  let sources: PilotSources;
  try {
    sources = await openSources(o, echoPorts, metrics);
  } catch (err) {
    fail((err as Error).message);
  }
  stops.push(() => sources.close());
  if (sources.kube) {
    // Proxies are pods: a node at a pod's IP must claim that pod's namespace and service account.
    const k = sources.kube;
    void k.whenReady(30_000).then(
      () => console.log(`kubernetes: ${k.services().length} services read`),
      (err: Error) => console.warn(`kubernetes: ${err.message}; not ready, retrying`),
    );
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

  const security = openMeshSecurity(o, generator);
  stops.push(() => security.close());
  const extraSources = [...(secrets ? [secrets] : []), ...(security.certificates ? [security.certificates] : [])];
  const controller = createDiscoveryController({
    services: sources.services,
    ...(sources.config ? { config: sources.config } : {}),
    generator,
    debounceMs: o.debounceMs,
    ...(o.groupByLocality ? { groupBy: { locality: true } } : {}),
    ...(security.mtls ? { mtls: security.mtls } : {}),
    ...(extraSources.length > 0 ? { sources: extraSources } : {}),
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

  const ads = createAdsServer({
    registry: controller.registry,
    metrics: createPromMetrics({ registry: metrics }),
    controlPlaneId: "xdskit-minimal-pilot",
    ...(await authorizer(o, sources)),
    // Secrets go only to clients that proved their namespace (workload certificates: their identity).
    authorizeResource: security.authorizeResource,
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
    source: () => sources.describe(),
    ...(security.certificates ? { certificates: () => security.certificates?.certificates() ?? [] } : {}),
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
