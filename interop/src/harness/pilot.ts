// minimal-pilot as a real process, as a user runs it: with a mesh file the
// test edits, or reading the mesh from etcd as one of several replicas.
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { waitFor } from "./wait.js";

const MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../examples/minimal-pilot/dist/main.js");

/** What every pilot process offers a test. */
interface PilotBase {
  readonly xdsPort: number;
  readonly adminPort: number;
  /** Everything it printed so far. */
  output(): string;
  /** GETs an admin page and parses it as JSON. */
  admin<T = unknown>(page: string): Promise<T>;
}

/** A running pilot with a mesh file. */
export interface Pilot extends PilotBase {
  readonly meshPath: string;
  /** Replaces the mesh file (the pilot picks it up by itself). */
  writeMesh(yaml: string): void;
  stop(): Promise<void>;
}

/** A pilot reading its mesh from etcd, as a replica runs. */
export interface EtcdPilot extends PilotBase {
  /** Its Prometheus metrics page. */
  metrics(): Promise<string>;
  /** SIGKILL: a crash, not a drain. */
  kill(): Promise<void>;
}

// Spawns main.js on free ports and reads the ports from its log.
async function launch(args: readonly string[]) {
  const child: ChildProcess = spawn(
    process.execPath,
    [MAIN, "--port", "0", "--admin-port", "0", "--debounce", "20", ...args],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let out = "";
  child.stdout?.on("data", (d) => (out += d));
  child.stderr?.on("data", (d) => (out += d));
  const gone = () => child.exitCode !== null || child.signalCode !== null;
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const port = (what: string, re: RegExp) =>
    waitFor(what, () => {
      if (gone()) throw new Error(`minimal-pilot exited:\n${out}`);
      return out.match(re)?.[1];
    }).catch((err: Error) => {
      throw new Error(`${err.message}\n${out}`);
    });
  const xdsPort = Number(await port("the pilot's xds port", /xds listening on [\d.]+:(\d+)/));
  const adminPort = Number(await port("the pilot's admin port", /admin listening on [\d.]+:(\d+)/));
  const get = (page: string) => fetch(`http://127.0.0.1:${adminPort}${page}`);
  const base: PilotBase = {
    xdsPort,
    adminPort,
    output: () => out,
    admin: async <T>(page: string) => {
      const res = await get(page);
      const text = await res.text();
      if (!res.ok) throw new Error(`${page}: HTTP ${res.status}: ${text}`);
      return JSON.parse(text) as T;
    },
  };
  // SIGTERM, then SIGKILL if it lingers.
  const stop = async () => {
    if (!gone()) child.kill("SIGTERM");
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    if (!gone()) child.kill("SIGKILL");
  };
  return { child, base, get, gone, exited, stop };
}

/** Starts minimal-pilot on free ports with a mesh file. */
export async function startPilot(mesh: string, extraArgs: readonly string[] = []): Promise<Pilot> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "xdskit-interop-"));
  const meshPath = path.join(dir, "mesh.yaml");
  fs.writeFileSync(meshPath, mesh);
  const { base, stop } = await launch(["--config", meshPath, ...extraArgs]);
  return {
    ...base,
    meshPath,
    writeMesh: (yaml) => fs.writeFileSync(meshPath, yaml),
    stop: async () => {
      await stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A running pilot reading Istio resources from a folder the test writes. */
export interface IstioPilot extends PilotBase {
  readonly dir: string;
  /** Writes (or replaces) one file of the folder; the pilot picks it up by itself. */
  write(file: string, yaml: string): void;
  stop(): Promise<void>;
}

/** Starts minimal-pilot on free ports with an Istio config folder holding `files`. */
export async function startIstioPilot(
  files: Record<string, string>,
  extraArgs: readonly string[] = [],
): Promise<IstioPilot> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "xdskit-istio-"));
  for (const [f, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, f), text);
  const { base, stop } = await launch(["--istio-config", dir, ...extraArgs]);
  return {
    ...base,
    dir,
    // Written aside and renamed: the pilot never reads half a file.
    write: (file, yaml) => {
      const tmp = path.join(dir, `.${file}.tmp`);
      fs.writeFileSync(tmp, yaml);
      fs.renameSync(tmp, path.join(dir, file));
    },
    stop: async () => {
      await stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A pilot reading Services from a Kubernetes API server. */
export interface KubePilot extends EtcdPilot {
  /** SIGTERM, then SIGKILL if it lingers. */
  stop(): Promise<void>;
}

/** Starts minimal-pilot on free ports reading a Kubernetes API server; resolves once it is ready. */
export async function startKubePilot(kubeconfig: string, extraArgs: readonly string[] = []): Promise<KubePilot> {
  const { child, base, get, gone, exited, stop } = await launch(["--kubeconfig", kubeconfig, ...extraArgs]);
  await waitFor("the pilot to read the API server", async () => ((await get("/readyz")).ok ? true : undefined), 30_000);
  return {
    ...base,
    metrics: async () => (await get("/metrics")).text(),
    kill: async () => {
      if (!gone()) child.kill("SIGKILL");
      await exited;
    },
    stop,
  };
}

/** Starts minimal-pilot on free ports reading the mesh from etcd; resolves once it is ready. */
export async function startEtcdPilot(etcdUrl: string, extraArgs: readonly string[] = []): Promise<EtcdPilot> {
  const { child, base, get, gone, exited } = await launch(["--etcd", etcdUrl, ...extraArgs]);
  await waitFor("the pilot to read etcd", async () => ((await get("/readyz")).ok ? true : undefined));
  return {
    ...base,
    metrics: async () => (await get("/metrics")).text(),
    kill: async () => {
      if (!gone()) child.kill("SIGKILL");
      await exited;
    },
  };
}
