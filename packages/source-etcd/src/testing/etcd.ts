// A real etcd server for tests and benchmarks: Debian's etcd binary in a
// temporary data folder on free loopback ports, stopped and restarted at will
// (the data stays, as a restarted member's would).
import { type ChildProcess, execFile, spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

/** TLS for the test etcd's client port: its certificate, and the CA its clients must present certificates from. */
export interface TestEtcdTls {
  /** PEM files: the server certificate (for 127.0.0.1) and its key. */
  readonly cert: string;
  readonly key: string;
  /** PEM file of the CA client certificates must chain to (etcd's --client-cert-auth). */
  readonly ca: string;
  /** A client certificate and key from `ca`, for the helper's own etcdctl calls. */
  readonly clientCert: string;
  readonly clientKey: string;
}

/** A running etcd. */
export interface TestEtcd {
  /** The client URL, `http://127.0.0.1:<port>` (`https://` with TLS). */
  readonly url: string;
  readonly dataDir: string;
  /** Stops the server (SIGTERM, then SIGKILL); the data stays. */
  stop(): Promise<void>;
  /** Starts it again on the same ports and data. */
  restart(): Promise<void>;
  /** Compacts the store up to its current revision (old revisions are gone for watchers). */
  compact(): void;
  /** Stops it and removes its data. */
  remove(): Promise<void>;
  /** What it printed lately. */
  log(): string;
}

/** What is missing when etcd cannot run here, or undefined when it can. */
export function etcdMissing(): string | undefined {
  const probes: [string, string[]][] = [
    ["etcd", ["--version"]],
    ["etcdctl", ["version"]],
  ];
  const missing = probes
    .filter(([cmd, args]) => {
      const r = spawnSync(cmd, args, { encoding: "utf8" });
      return r.error !== undefined || r.status !== 0;
    })
    .map(([cmd]) => cmd);
  if (missing.length === 0) return undefined;
  return `the etcd tests need ${missing.join(" and ")} on PATH (a real etcd server is started for them); on Debian: apt-get install -y etcd-server etcd-client`;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

const tlsFlags = (tls: TestEtcdTls | undefined) =>
  tls ? ["--cacert", tls.ca, "--cert", tls.clientCert, "--key", tls.clientKey] : [];

// etcdctl with the endpoint and, with TLS, the client certificate.
function etcdctl(url: string, tls: TestEtcdTls | undefined, args: readonly string[]) {
  const auth = tlsFlags(tls);
  return spawnSync(
    "etcdctl",
    ["--endpoints", url, "--dial-timeout", "1s", "--command-timeout", "2s", ...auth, ...args],
    {
      encoding: "utf8",
      env: { ...process.env, ETCDCTL_API: "3" },
    },
  );
}

// Polls `etcdctl endpoint health` without blocking the event loop (a source
// under test may share this process).
async function healthy(url: string, tls: TestEtcdTls | undefined, ms: number): Promise<void> {
  const end = Date.now() + ms;
  let last = "";
  while (Date.now() < end) {
    const auth = tlsFlags(tls);
    const ok = await new Promise<boolean>((resolve) => {
      execFile(
        "etcdctl",
        ["--endpoints", url, "--dial-timeout", "1s", "--command-timeout", "2s", ...auth, "endpoint", "health"],
        { env: { ...process.env, ETCDCTL_API: "3" } },
        (err, stdout, stderr) => {
          if (err) last = `${stderr || stdout || err.message}`.trim().split("\n").pop() ?? "";
          resolve(!err);
        },
      );
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`etcd at ${url} did not become healthy within ${ms} ms: ${last}`);
}

/** Starts a one-member etcd on free ports in a new temporary folder; with `tls`, its client port speaks TLS and wants client certificates. */
export async function startTestEtcd(options: { tls?: TestEtcdTls } = {}): Promise<TestEtcd> {
  const tls = options.tls;
  const missing = etcdMissing();
  if (missing) throw new Error(missing);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "xdskit-etcd-"));
  const clientPort = await freePort();
  const peerPort = await freePort();
  const url = `${tls ? "https" : "http"}://127.0.0.1:${clientPort}`;
  const tlsArgs = tls
    ? ["--cert-file", tls.cert, "--key-file", tls.key, "--trusted-ca-file", tls.ca, "--client-cert-auth"]
    : [];
  let child: ChildProcess | undefined;
  let out = "";
  const launch = async () => {
    child = spawn(
      "etcd",
      [
        "--name",
        "test",
        "--data-dir",
        dataDir,
        "--listen-client-urls",
        url,
        "--advertise-client-urls",
        url,
        "--listen-peer-urls",
        `http://127.0.0.1:${peerPort}`,
        "--initial-advertise-peer-urls",
        `http://127.0.0.1:${peerPort}`,
        "--initial-cluster",
        `test=http://127.0.0.1:${peerPort}`,
        "--logger",
        "zap",
        "--log-level",
        "warn",
        ...tlsArgs,
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    const keep = (d: Buffer) => {
      out += d;
      if (out.length > 100_000) out = out.slice(-50_000);
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    await healthy(url, tls, 15_000);
  };
  const stop = async () => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => c.kill("SIGKILL"), 5000);
      c.once("exit", () => {
        clearTimeout(t);
        resolve();
      });
      c.kill("SIGTERM");
    });
  };
  await launch();
  return {
    url,
    dataDir,
    stop,
    restart: async () => {
      await stop();
      await launch();
    },
    compact: () => {
      const status = etcdctl(url, tls, ["endpoint", "status", "--write-out", "json"]);
      const revision = JSON.parse(status.stdout)[0]?.Status?.header?.revision;
      const r = etcdctl(url, tls, ["compact", String(revision)]);
      if (r.status !== 0) throw new Error(`etcdctl compact failed: ${r.stderr}`);
    },
    remove: async () => {
      await stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
    log: () => out,
  };
}
