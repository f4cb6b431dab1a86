// A real etcd server for tests and benchmarks: Debian's etcd binary in a
// temporary data folder on free loopback ports, stopped and restarted at will
// (the data stays, as a restarted member's would).
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

/** A running etcd. */
export interface TestEtcd {
  /** The client URL, `http://127.0.0.1:<port>`. */
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

async function healthy(url: string, ms: number): Promise<void> {
  const end = Date.now() + ms;
  let last = "";
  while (Date.now() < end) {
    try {
      const res = await fetch(`${url}/health`);
      if (res.ok) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`etcd at ${url} did not become healthy within ${ms} ms: ${last}`);
}

/** Starts a one-member etcd on free ports in a new temporary folder. */
export async function startTestEtcd(): Promise<TestEtcd> {
  const missing = etcdMissing();
  if (missing) throw new Error(missing);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "xdskit-etcd-"));
  const clientPort = await freePort();
  const peerPort = await freePort();
  const url = `http://127.0.0.1:${clientPort}`;
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
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    const keep = (d: Buffer) => {
      out += d;
      if (out.length > 100_000) out = out.slice(-50_000);
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    await healthy(url, 15_000);
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
      const status = spawnSync("etcdctl", ["--endpoints", url, "endpoint", "status", "--write-out", "json"], {
        encoding: "utf8",
        env: { ...process.env, ETCDCTL_API: "3" },
      });
      const revision = JSON.parse(status.stdout)[0]?.Status?.header?.revision;
      const r = spawnSync("etcdctl", ["--endpoints", url, "compact", String(revision)], {
        encoding: "utf8",
        env: { ...process.env, ETCDCTL_API: "3" },
      });
      if (r.status !== 0) throw new Error(`etcdctl compact failed: ${r.stderr}`);
    },
    remove: async () => {
      await stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
    log: () => out,
  };
}
