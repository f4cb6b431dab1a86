// What every xdskit-adsc command shares: the server, node and security
// options, their parsing, and the usage error they throw.
import os from "node:os";
import { Option, type Command } from "commander";
import { resourceTypes } from "@xdskit/xds-types";
import { type ConnectionSecurity, parseTarget, probe, securityFromFiles } from "./credentials.js";

/** A failure the user can act on; the message says what to fix. */
export class UsageError extends Error {}

/** The options every command shares. */
export interface Common {
  server: string;
  node: string;
  cluster: string;
  proxyless?: boolean;
  metadata?: Record<string, string>;
  locality?: { region: string; zone: string; subZone: string };
  delta?: boolean;
  tls?: boolean;
  ca?: string;
  cert?: string;
  key?: string;
}

/** Turns `cds`, `EDS`, `lds,rds` or full type URLs into type URLs. */
export function parseTypes(list: string): string[] {
  const out: string[] = [];
  for (const raw of list
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)) {
    if (raw.includes("/")) {
      out.push(raw);
      continue;
    }
    const t = [...resourceTypes.values()].find((x) => x.shortName.toLowerCase() === raw.toLowerCase());
    if (!t) {
      const known = [...resourceTypes.values()].map((x) => x.shortName.toLowerCase()).join(", ");
      throw new UsageError(`unknown type "${raw}"; expected one of ${known}, or a full type URL`);
    }
    out.push(t.typeUrl);
  }
  if (out.length === 0) throw new UsageError("no type given; expected e.g. --type cds,eds");
  return out;
}

/** A commander parser for a positive whole number option named `name`. */
export function positiveInt(name: string) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) throw new UsageError(`${name} must be a positive whole number, got "${v}"`);
    return n;
  };
}

/** Adds the shared options (server, node, security) to a command. */
export function withCommon(cmd: Command): Command {
  return cmd
    .addOption(
      new Option(
        "-s, --server <host:port>",
        "the control plane's xDS address (watch: several, comma-separated, to fail over between replicas)",
      ).default("127.0.0.1:15010"),
    )
    .addOption(new Option("-n, --node <id>", "node id to present").default(`adsc-${os.hostname()}-${process.pid}`))
    .addOption(new Option("--cluster <name>", "node cluster to present").default("adsc"))
    .addOption(new Option("--proxyless", "present as a proxyless gRPC client (gRPC user agent and client features)"))
    .addOption(
      new Option("--metadata <key=value>", "node metadata (repeatable), e.g. --metadata NAMESPACE=default").argParser(
        metadataPair,
      ),
    )
    .addOption(
      new Option("--locality <region/zone/subzone>", "node locality (zone and subzone optional)").argParser(
        parseLocality,
      ),
    )
    .addOption(new Option("--delta", "speak incremental (Delta) xDS instead of State of the World"))
    .addOption(new Option("--tls", "use TLS (system roots unless --ca is given)"))
    .addOption(new Option("--ca <file>", "PEM CA to trust (implies --tls)"))
    .addOption(new Option("--cert <file>", "PEM client certificate for mTLS (with --key)"))
    .addOption(new Option("--key <file>", "PEM client key for mTLS (with --cert)"));
}

/** The connection security the options ask for. */
export function security(o: Common): ConnectionSecurity {
  try {
    return securityFromFiles({
      ...(o.tls ? { tls: true } : {}),
      ...(o.ca ? { ca: o.ca } : {}),
      ...(o.cert ? { cert: o.cert } : {}),
      ...(o.key ? { key: o.key } : {}),
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

function metadataPair(value: string, previous: Record<string, string> | undefined): Record<string, string> {
  const i = value.indexOf("=");
  if (i <= 0) throw new UsageError(`--metadata takes key=value, got "${value}"`);
  return { ...(previous ?? {}), [value.slice(0, i)]: value.slice(i + 1) };
}

function parseLocality(value: string): { region: string; zone: string; subZone: string } {
  const [region = "", zone = "", subZone = "", extra] = value.split("/");
  if (!region || extra !== undefined) throw new UsageError(`--locality takes region[/zone[/subzone]], got "${value}"`);
  return { region, zone, subZone };
}

// What a gRPC xDS client says of itself, so a control plane serves it as proxyless.
const PROXYLESS_FEATURES = ["envoy.lb.does_not_support_overprovisioning", "xds.config.resource-in-sotw"];

/** The node the options describe. */
export function node(o: Common) {
  return {
    id: o.node,
    cluster: o.cluster,
    locality: o.locality ?? { region: "adsc", zone: "adsc", subZone: "" },
    ...(o.metadata ? { metadata: o.metadata } : {}),
    ...(o.proxyless ? { userAgentName: "gRPC Node (xdskit-adsc)", clientFeatures: PROXYLESS_FEATURES } : {}),
  };
}

/** The addresses of --server (several, comma-separated, for failover). */
export function servers(o: Common): string[] {
  return o.server
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Checks the addresses and that something listens at one of them, before any gRPC. */
export async function reachable(o: Common): Promise<void> {
  const list = servers(o);
  try {
    if (list.length === 0) throw new Error("--server: expected host:port");
    for (const t of list) parseTarget(t);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  await Promise.any(list.map((t) => probe(t))).catch((err: AggregateError) => {
    throw err.errors[0];
  });
}
