// minimal-pilot's command line: flags, their defaults, and clear errors.
import fs from "node:fs";
import { parseArgs } from "node:util";

export const USAGE = `usage: npm start -- [options]

  --port N              xDS gRPC port (default 15010; 0 picks a free one)
  --host ADDR           address the xDS port and the demo backends bind (default 127.0.0.1)
  --config FILE         a mesh file (YAML or JSON), watched for changes; see docs/mesh-file.md
  --max-config-bytes N  largest mesh file accepted (default 8388608); a bigger one is refused
  --etcd URL[,URL…]     read the mesh from etcd instead (docs/scale-out.md): one key per service,
                        host's routes and gateway port; load one with xdskit-mesh put
  --etcd-prefix P       where the mesh lives in etcd (default /xdskit/)
  --etcd-ca FILE        TLS to etcd (https:// URLs): the CA of etcd's certificate (default: system roots)
  --etcd-cert FILE      a client certificate for etcd's --client-cert-auth (with --etcd-key)
  --etcd-key FILE       its private key
  --kubeconfig FILE     read Services, EndpointSlices, Pods and Nodes from a Kubernetes API server
                        (docs/kubernetes.md); with --config or --etcd, their services and routes too
  --kubernetes          the same with the default kubeconfig: the pod's service account when run
                        in a cluster, else KUBECONFIG or ~/.kube/config
  --namespaces A,B      serve only these namespaces (each watched on its own)
  --namespace-selector S  serve only namespaces whose labels match S (e.g. mesh=enabled)
  --cluster-domain D    hosts are <name>.<namespace>.svc.<D> (default cluster.local)
  --istio-config DIR    Istio's VirtualService, DestinationRule, ServiceEntry, WorkloadEntry,
                        Gateway and Sidecar from YAML files in DIR, watched (docs/istio.md);
                        with any other source
  --istio               the same resources from the Kubernetes API (needs --kubeconfig or
                        --kubernetes, and Istio's networking CRDs installed)
  --backends N          demo echo backends to start on loopback (default 2; 0 with another source)
  --debounce MS         push debounce quiet period (default 100)
  --group-by-locality   node groups (and shared builds) per client locality, which services
                        with "localityFailover: nearest" need (docs/proxyless.md)
  --heap-growth PCT     V8's old-generation growth between full collections, in percent (default
                        100, fewer collections under a fleet's ACKs; 0 keeps V8's own; docs/limits.md)

security (docs/security.md):
  --tls-cert FILE       the xDS port speaks TLS only, with this certificate chain (PEM) ...
  --tls-key FILE        ... and this private key; both are re-read when they change
  --client-ca FILE      mTLS: clients must present a certificate chaining to this CA, and its
                        SPIFFE ID (spiffe://<trust domain>/ns/<ns>/sa/<sa>) must match the node's
                        namespace (metadata NAMESPACE, or the id's) and SERVICE_ACCOUNT
  --trust-domain NAME   SPIFFE trust domain of client certificates (default cluster.local)
  --mesh-ca DIR         be the mesh's certificate authority: DIR/root-cert.pem and root-key.pem (an EC
                        root, created there when absent); sidecars get workload certificates over
                        SDS (default, ROOTCA) for the identity they prove (mTLS client certificate,
                        or a Kubernetes service-account token) and speak mutual TLS to each other
  --cert-ttl SECONDS    workload certificate lifetime (default 86400; rotated at half)
  --secrets-dir DIR     SDS: DIR/<namespace>/<name>/tls.crt+tls.key is secret <namespace>/<name>,
                        ca.crt alone a validation context; served over mTLS to that namespace only

admin (docs/admin.md):
  --admin-port N        admin HTTP port (default 15014): /healthz /readyz /metrics /debug/...
  --admin-host ADDR     address the admin port binds (default 127.0.0.1)
  --admin-token-file F  every admin page but /healthz needs "Authorization: Bearer <token>";
                        required to bind the admin port anywhere but the loopback

  --verbose             log what happens
  --help                this text`;

/** The parsed command line. */
export interface PilotOptions {
  readonly host: string;
  readonly port: number;
  readonly config: string | undefined;
  readonly maxConfigBytes: number | undefined;
  /** etcd client URLs: the mesh comes from etcd. */
  readonly etcd: readonly string[] | undefined;
  readonly etcdPrefix: string;
  /** TLS files for etcd (https:// URLs). */
  readonly etcdTls: { readonly caFile?: string; readonly certFile?: string; readonly keyFile?: string };
  readonly backends: number;
  readonly debounceMs: number;
  /** V8's heap growth in percent (0: V8's own); see tuneHeapGrowth. */
  readonly heapGrowthPercent: number;
  /** Services from a Kubernetes API server. */
  readonly kubernetes:
    | {
        readonly kubeconfig: string | undefined;
        readonly namespaces: readonly string[] | undefined;
        readonly namespaceSelector: string | undefined;
        readonly domain: string;
      }
    | undefined;
  /** Istio resources from a folder and/or the cluster. */
  readonly istio: { readonly dir: string | undefined; readonly kubernetes: boolean } | undefined;
  /** Hosts are `<name>.<namespace>.svc.<clusterDomain>` (Kubernetes and Istio names). */
  readonly clusterDomain: string;
  /** Node groups per client locality (the controller's groupBy.locality). */
  readonly groupByLocality: boolean;
  readonly tls:
    | { readonly certFile: string; readonly keyFile: string; readonly clientCaFile: string | undefined }
    | undefined;
  readonly trustDomain: string;
  readonly secretsDir: string | undefined;
  /** The mesh CA's folder, when the pilot issues workload certificates. */
  readonly meshCa: { readonly dir: string; readonly ttlMs: number } | undefined;
  readonly adminHost: string;
  readonly adminPort: number;
  readonly adminToken: string | undefined;
  readonly verbose: boolean;
}

/** A command-line mistake: the message says what to fix; exit code 2. */
export class UsageError extends Error {}

function port(value: string | undefined, fallback: number, flag: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new UsageError(`${flag} must be a port number from 0 to 65535, got "${value}"`);
  return n;
}

function whole(value: string | undefined, flag: string, min: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min)
    throw new UsageError(`${flag} must be a whole number of at least ${min}, got "${value}"`);
  return n;
}

function readableFile(file: string | undefined, flag: string): string | undefined {
  if (file === undefined) return undefined;
  try {
    fs.accessSync(file, fs.constants.R_OK);
  } catch {
    throw new UsageError(`${flag} ${file}: no such readable file`);
  }
  return file;
}

// 0 (V8's own), or a percentage tuneHeapGrowth accepts.
function heapGrowth(v: string | undefined): number {
  const n = whole(v, "--heap-growth", 0) ?? 100;
  if (n !== 0 && (n < 10 || n > 400))
    throw new UsageError(`--heap-growth must be 0 (V8's own) or a whole percentage from 10 to 400, got ${v}`);
  return n;
}

/** Parses argv; throws UsageError for mistakes; undefined means --help was asked. */
export function parseOptions(argv: readonly string[]): PilotOptions | undefined {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: [...argv],
      options: {
        port: { type: "string" },
        "admin-port": { type: "string" },
        host: { type: "string" },
        "admin-host": { type: "string" },
        "admin-token-file": { type: "string" },
        config: { type: "string" },
        "max-config-bytes": { type: "string" },
        etcd: { type: "string" },
        "etcd-prefix": { type: "string" },
        "etcd-ca": { type: "string" },
        "etcd-cert": { type: "string" },
        "etcd-key": { type: "string" },
        backends: { type: "string" },
        kubeconfig: { type: "string" },
        kubernetes: { type: "boolean", default: false },
        namespaces: { type: "string" },
        "namespace-selector": { type: "string" },
        "cluster-domain": { type: "string" },
        "istio-config": { type: "string" },
        istio: { type: "boolean", default: false },
        debounce: { type: "string" },
        "group-by-locality": { type: "boolean", default: false },
        "heap-growth": { type: "string" },
        "tls-cert": { type: "string" },
        "tls-key": { type: "string" },
        "client-ca": { type: "string" },
        "trust-domain": { type: "string" },
        "secrets-dir": { type: "string" },
        "mesh-ca": { type: "string" },
        "cert-ttl": { type: "string" },
        verbose: { type: "boolean", default: false },
        help: { type: "boolean", default: false },
      },
    }).values;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) return undefined;
  const str = (k: string) => values[k] as string | undefined;
  const cert = readableFile(str("tls-cert"), "--tls-cert");
  const key = readableFile(str("tls-key"), "--tls-key");
  const ca = readableFile(str("client-ca"), "--client-ca");
  if ((cert === undefined) !== (key === undefined))
    throw new UsageError("--tls-cert and --tls-key go together: give both, or neither");
  if (ca && !cert)
    throw new UsageError("--client-ca needs --tls-cert and --tls-key: mTLS is TLS with client certificates");
  const tokenFile = readableFile(str("admin-token-file"), "--admin-token-file");
  let adminToken: string | undefined;
  if (tokenFile) {
    adminToken = fs.readFileSync(tokenFile, "utf8").trim();
    if (adminToken.length < 16)
      throw new UsageError(`--admin-token-file ${tokenFile}: the token must be at least 16 characters`);
  }
  const secretsDir = str("secrets-dir");
  if (secretsDir !== undefined && !(fs.existsSync(secretsDir) && fs.statSync(secretsDir).isDirectory())) {
    throw new UsageError(`--secrets-dir ${secretsDir}: no such folder`);
  }
  const meshCaDir = str("mesh-ca");
  if (str("cert-ttl") !== undefined && meshCaDir === undefined) throw new UsageError("--cert-ttl needs --mesh-ca");
  const config = str("config");
  const etcd = str("etcd")
    ?.split(",")
    .map((u) => u.trim())
    .filter(Boolean);
  if (etcd && config) throw new UsageError("--config and --etcd are two sources of the mesh: give one");
  for (const u of etcd ?? [])
    if (!/^https?:\/\/[^/]+$/.test(u))
      throw new UsageError(`--etcd: expected URLs like http://127.0.0.1:2379, got "${u}"`);
  if (etcd?.length === 0) throw new UsageError("--etcd needs at least one URL");
  const etcdPrefix = str("etcd-prefix") ?? "/xdskit/";
  if (!etcdPrefix.startsWith("/") || !etcdPrefix.endsWith("/") || etcdPrefix.length < 2)
    throw new UsageError(`--etcd-prefix must start and end with '/', like /xdskit/; got "${etcdPrefix}"`);
  if (str("etcd-prefix") !== undefined && !etcd) throw new UsageError("--etcd-prefix needs --etcd");
  const etcdCa = readableFile(str("etcd-ca"), "--etcd-ca");
  const etcdCert = readableFile(str("etcd-cert"), "--etcd-cert");
  const etcdKey = readableFile(str("etcd-key"), "--etcd-key");
  if ((etcdCa || etcdCert || etcdKey) && !etcd)
    throw new UsageError("--etcd-ca, --etcd-cert and --etcd-key need --etcd");
  if ((etcdCert === undefined) !== (etcdKey === undefined))
    throw new UsageError("--etcd-cert and --etcd-key go together: give both, or neither");
  if ((etcdCa || etcdCert) && etcd?.some((u) => !u.startsWith("https://")))
    throw new UsageError(`TLS to etcd needs https:// URLs in --etcd; got ${etcd.join(",")}`);
  const kubeconfig = readableFile(str("kubeconfig"), "--kubeconfig");
  const useKube = kubeconfig !== undefined || values.kubernetes === true;
  const namespaces = str("namespaces")
    ?.split(",")
    .map((n) => n.trim())
    .filter(Boolean);
  for (const n of namespaces ?? [])
    if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(n))
      throw new UsageError(`--namespaces: "${n}" is not a namespace name (lower-case letters, digits and '-')`);
  for (const flag of ["namespaces", "namespace-selector", "cluster-domain"])
    if (str(flag) !== undefined && !useKube && !(flag === "cluster-domain" && str("istio-config") !== undefined))
      throw new UsageError(`--${flag} needs --kubeconfig or --kubernetes`);
  const istioDir = str("istio-config");
  if (istioDir !== undefined && !(fs.existsSync(istioDir) && fs.statSync(istioDir).isDirectory()))
    throw new UsageError(`--istio-config ${istioDir}: no such folder`);
  if (values.istio === true && !useKube)
    throw new UsageError("--istio reads the cluster: it needs --kubeconfig or --kubernetes");
  const istio =
    istioDir !== undefined || values.istio === true ? { dir: istioDir, kubernetes: values.istio === true } : undefined;
  const domain = str("cluster-domain") ?? "cluster.local";
  if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(domain))
    throw new UsageError(`--cluster-domain must be a DNS name like cluster.local, got "${domain}"`);
  return {
    host: str("host") ?? "127.0.0.1",
    port: port(str("port"), 15010, "--port"),
    config,
    maxConfigBytes: whole(str("max-config-bytes"), "--max-config-bytes", 1),
    etcd,
    etcdPrefix,
    etcdTls: {
      ...(etcdCa ? { caFile: etcdCa } : {}),
      ...(etcdCert ? { certFile: etcdCert } : {}),
      ...(etcdKey ? { keyFile: etcdKey } : {}),
    },
    kubernetes: useKube ? { kubeconfig, namespaces, namespaceSelector: str("namespace-selector"), domain } : undefined,
    istio,
    clusterDomain: domain,
    backends: whole(str("backends"), "--backends", 0) ?? (config || etcd || useKube || istio ? 0 : 2),
    debounceMs: whole(str("debounce"), "--debounce", 0) ?? 100,
    groupByLocality: values["group-by-locality"] === true,
    heapGrowthPercent: heapGrowth(str("heap-growth")),
    tls: cert && key ? { certFile: cert, keyFile: key, clientCaFile: ca } : undefined,
    trustDomain: str("trust-domain") ?? "cluster.local",
    secretsDir,
    meshCa:
      meshCaDir !== undefined
        ? { dir: meshCaDir, ttlMs: (whole(str("cert-ttl"), "--cert-ttl", 10) ?? 86_400) * 1000 }
        : undefined,
    adminHost: str("admin-host") ?? "127.0.0.1",
    adminPort: port(str("admin-port"), 15014, "--admin-port"),
    adminToken,
    verbose: values.verbose === true,
  };
}
