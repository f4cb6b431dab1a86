// A real Kubernetes control plane for tests, run the way controller-runtime's
// envtest runs one: etcd, kube-apiserver (RBAC, service accounts, a static
// admin token) and kube-controller-manager with only the EndpointSlice
// controller, so EndpointSlices come from Services and Pods exactly as in a
// cluster. There is no kubelet: tests make Pods ready by patching their
// status, as a kubelet would. Every port is a free loopback port; everything
// lives in a temporary folder removed by `stop()`.
import { type ChildProcess, spawn } from "node:child_process";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { KubeConfig, KubernetesObjectApi, type KubernetesObject } from "@kubernetes/client-node";

/** Where the binaries are when nothing says otherwise: what `scripts/ensure-kube.sh` builds. */
export const DEFAULT_KUBE_BIN = path.join(
  process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"),
  "xdskit/kube-v1.37.2-etcd-v3.7.0/bin",
);

/** Options of {@link startTestKube}. */
export interface TestKubeOptions {
  /** The folder with `etcd`, `kube-apiserver` and `kube-controller-manager`. Default `$XDSKIT_KUBE_BIN`, else {@link DEFAULT_KUBE_BIN}. */
  readonly binDir?: string;
  /** Run the EndpointSlice controller. Default true. */
  readonly controllers?: boolean;
  /** How long the control plane may take to be ready, ms. Default 60,000. */
  readonly readyTimeoutMs?: number;
}

/** A running test control plane. */
export interface TestKube {
  /** A kubeconfig file for the admin (system:masters). */
  readonly kubeconfig: string;
  /** The API server's URL. */
  readonly server: string;
  /** The admin's client configuration. */
  readonly config: KubeConfig;
  /** The folder of its files (certificates, tokens, etcd data). */
  readonly dir: string;
  /** A client for any object. */
  readonly api: KubernetesObjectApi;
  /** Stops the API server (etcd and its data stay) — an outage. */
  stopApiServer(): Promise<void>;
  /** Starts it again on the same port. */
  startApiServer(): Promise<void>;
  /** Compacts etcd's history up to now, so watches from older versions get 410 Gone. */
  compact(): Promise<number>;
  /** Writes a kubeconfig for another identity (a bearer token), e.g. a service account's. */
  kubeconfigFor(name: string, token: string): string;
  /** Stops everything and removes the folder. */
  stop(): Promise<void>;
}

/** The binaries missing from `binDir`, as a sentence; undefined when all are there. */
export function kubeMissing(binDir = process.env.XDSKIT_KUBE_BIN ?? DEFAULT_KUBE_BIN): string | undefined {
  const lacking = ["etcd", "kube-apiserver", "kube-controller-manager"].filter(
    (b) => !fs.existsSync(path.join(binDir, b)),
  );
  return lacking.length === 0
    ? undefined
    : `${lacking.join(", ")} not found in ${binDir}: run scripts/ensure-kube.sh (builds them once from the Go module proxy, about 7 minutes) or set XDSKIT_KUBE_BIN`;
}

/** A free port on the loopback. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

function launch(bin: string, args: readonly string[], log: string): ChildProcess {
  const out = fs.openSync(log, "a");
  return spawn(bin, args, { stdio: ["ignore", out, out] });
}

async function stopProcess(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const t = setTimeout(() => {
      child.kill("SIGKILL");
    }, 5000);
    child.once("exit", () => {
      clearTimeout(t);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

async function until(what: string, ok: () => Promise<boolean>, ms: number, log: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ok().catch(() => false))) {
    if (Date.now() > deadline) {
      const tail = fs.existsSync(log) ? fs.readFileSync(log, "utf8").split("\n").slice(-15).join("\n") : "";
      throw new Error(`${what} within ${ms} ms; log ${log}:\n${tail}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

function kubeconfigText(server: string, ca: string, user: string, token: string): string {
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "test", cluster: { server, "certificate-authority": ca } }],
    users: [{ name: user, user: { token } }],
    contexts: [{ name: "test", context: { cluster: "test", user } }],
    "current-context": "test",
  });
}

/** Starts etcd, kube-apiserver and (unless told not to) the EndpointSlice controller. */
export async function startTestKube(options: TestKubeOptions = {}): Promise<TestKube> {
  const bin = options.binDir ?? process.env.XDSKIT_KUBE_BIN ?? DEFAULT_KUBE_BIN;
  const missing = kubeMissing(bin);
  if (missing) throw new Error(missing);
  const readyMs = options.readyTimeoutMs ?? 60_000;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "xdskit-kube-"));
  const certs = path.join(dir, "certs");
  fs.mkdirSync(certs);
  const [etcdPort, etcdPeer, apiPort] = [await freePort(), await freePort(), await freePort()];
  const etcdUrl = `http://127.0.0.1:${etcdPort}`;
  const server = `https://127.0.0.1:${apiPort}`;
  const adminToken = randomBytes(24).toString("hex");
  fs.writeFileSync(path.join(dir, "tokens.csv"), `${adminToken},admin,admin,"system:masters"\n`);
  const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  fs.writeFileSync(path.join(dir, "sa.pub"), publicKey.export({ type: "spki", format: "pem" }));
  fs.writeFileSync(path.join(dir, "sa.key"), privateKey.export({ type: "pkcs8", format: "pem" }));
  const etcdLog = path.join(dir, "etcd.log");
  const apiLog = path.join(dir, "kube-apiserver.log");
  const kcmLog = path.join(dir, "kube-controller-manager.log");

  const etcd = launch(
    path.join(bin, "etcd"),
    [
      "--name=test",
      `--data-dir=${path.join(dir, "etcd")}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-cluster=test=http://127.0.0.1:${etcdPeer}`,
      "--unsafe-no-fsync",
      "--log-level=warn",
    ],
    etcdLog,
  );
  let api: ChildProcess | undefined;
  let kcm: ChildProcess | undefined;
  const startApi = async () => {
    api = launch(
      path.join(bin, "kube-apiserver"),
      [
        `--etcd-servers=${etcdUrl}`,
        `--cert-dir=${certs}`,
        `--secure-port=${apiPort}`,
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        // The API server's own Endpoints would be loopback, which it refuses.
        "--endpoint-reconciler-type=none",
        "--service-cluster-ip-range=10.96.0.0/16",
        "--authorization-mode=RBAC",
        `--token-auth-file=${path.join(dir, "tokens.csv")}`,
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        `--service-account-key-file=${path.join(dir, "sa.pub")}`,
        `--service-account-signing-key-file=${path.join(dir, "sa.key")}`,
        "--allow-privileged=true",
        "-v=1",
      ],
      apiLog,
    );
    const ca = path.join(certs, "apiserver.crt");
    await until(
      "kube-apiserver to be ready",
      async () => {
        if (!fs.existsSync(ca)) return false;
        const res = await fetchReadyz(server, ca, adminToken);
        return res;
      },
      readyMs,
      apiLog,
    );
  };
  const cleanupAll = async () => {
    await stopProcess(kcm);
    await stopProcess(api);
    await stopProcess(etcd);
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    await until("etcd to be healthy", async () => (await fetch(`${etcdUrl}/health`)).ok, readyMs, etcdLog);
    await startApi();
  } catch (err) {
    await cleanupAll();
    throw err;
  }
  const ca = path.join(certs, "apiserver.crt");
  const kubeconfig = path.join(dir, "admin.kubeconfig");
  fs.writeFileSync(kubeconfig, kubeconfigText(server, ca, "admin", adminToken));
  if (options.controllers !== false) {
    kcm = launch(
      path.join(bin, "kube-controller-manager"),
      [
        `--kubeconfig=${kubeconfig}`,
        "--controllers=endpointslice-controller",
        "--leader-elect=false",
        "--secure-port=0",
        "--concurrent-service-endpoint-syncs=10",
        "-v=1",
      ],
      kcmLog,
    );
  }
  const config = new KubeConfig();
  config.loadFromFile(kubeconfig);
  return {
    kubeconfig,
    server,
    config,
    dir,
    api: KubernetesObjectApi.makeApiClient(config),
    stopApiServer: () => stopProcess(api),
    startApiServer: startApi,
    compact: () => compactEtcd(etcdUrl),
    kubeconfigFor: (name, token) => {
      const file = path.join(dir, `${name.replace(/[^a-z0-9-]/gi, "_")}.kubeconfig`);
      fs.writeFileSync(file, kubeconfigText(server, ca, name, token));
      return file;
    },
    stop: cleanupAll,
  };
}

// node's fetch cannot take a CA per request; https.get can.
async function fetchReadyz(server: string, ca: string, token: string): Promise<boolean> {
  const https = await import("node:https");
  return new Promise((resolve) => {
    const req = https.get(
      `${server}/readyz`,
      { ca: fs.readFileSync(ca), headers: { authorization: `Bearer ${token}` }, timeout: 2000 },
      (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      },
    );
    req.on("error", () => resolve(false));
    req.on("timeout", () => {
      req.destroy();
      resolve(false);
    });
  });
}

// etcd's JSON gateway: read the current revision, then compact to it.
async function compactEtcd(etcdUrl: string): Promise<number> {
  const post = async (p: string, body: unknown) => {
    const res = await fetch(`${etcdUrl}${p}`, { method: "POST", body: JSON.stringify(body) });
    if (!res.ok) throw new Error(`etcd ${p}: HTTP ${res.status} ${await res.text()}`);
    return (await res.json()) as { header?: { revision?: string } };
  };
  const status = await post("/v3/kv/range", { key: Buffer.from("/").toString("base64") });
  const revision = Number(status.header?.revision ?? 0);
  await post("/v3/kv/compaction", { revision: String(revision), physical: true });
  return revision;
}

/** Creates objects (namespaces, services…) and waits for each; returns them as created. */
export async function applyAll(
  api: KubernetesObjectApi,
  objects: readonly KubernetesObject[],
): Promise<KubernetesObject[]> {
  const out: KubernetesObject[] = [];
  for (const o of objects) out.push(await api.create(o));
  return out;
}
