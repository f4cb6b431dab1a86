// go-control-plane as a baseline: the Go program in bench/gcp serves the same
// world (the exact resource bytes xdskit serves, written to a file) with
// go-control-plane's SnapshotCache or LinearCache. Used when `go` is on PATH.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";
import type { Snapshot } from "@xdskit/snapshot";
import { TypeUrl } from "@xdskit/xds-types";
import { exitOrKill } from "./child.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const source = path.join(root, "bench/gcp");
const binary = path.join(root, ".tmp/gcp-baseline");

/** True when a Go toolchain is on PATH. */
export function goAvailable(): boolean {
  return spawnSync("go", ["version"], { stdio: "ignore" }).status === 0;
}

/** Builds the baseline (once; again when its source is newer). Throws with the compiler's output on failure. */
export function buildGcp(): string {
  const newest = Math.max(...fs.readdirSync(source).map((f) => fs.statSync(path.join(source, f)).mtimeMs));
  if (fs.existsSync(binary) && fs.statSync(binary).mtimeMs >= newest) return binary;
  fs.mkdirSync(path.dirname(binary), { recursive: true });
  const r = spawnSync("go", ["build", "-o", binary, "."], { cwd: source, encoding: "utf8", timeout: 600_000 });
  if (r.status !== 0) throw new Error(`building the go-control-plane baseline failed:\n${r.stderr}`);
  return binary;
}

/** Writes a snapshot's CDS/EDS/LDS/RDS resources (their Any bytes) in the format bench/gcp reads. */
export function writeWorld(file: string, snap: Snapshot): void {
  const parts: Buffer[] = [];
  const u32 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    return b;
  };
  for (const t of [TypeUrl.Cluster, TypeUrl.ClusterLoadAssignment, TypeUrl.Listener, TypeUrl.RouteConfiguration]) {
    const list = [...(snap.get(t)?.resources.values() ?? [])];
    parts.push(u32(Buffer.byteLength(t)), Buffer.from(t), u32(list.length));
    for (const r of list) parts.push(u32(r.anyBytes.length), Buffer.from(r.anyBytes));
  }
  fs.writeFileSync(file, Buffer.concat(parts));
}

/** A running baseline server. */
export interface GcpServer {
  readonly port: number;
  /** Installs the world; resolves with go-control-plane's own time for it. */
  set(): Promise<number>;
  /** Peak RSS of the Go process, in bytes. */
  peakRss(): Promise<number>;
  stop(): Promise<void>;
}

/** Starts the baseline with a cache kind on the world file. */
export async function startGcp(cache: "snapshot" | "linear", worldFile: string): Promise<GcpServer> {
  const child: ChildProcess = spawn(buildGcp(), ["-world", worldFile, "-cache", cache], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const lines = readline.createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const waiting: ((line: string) => void)[] = [];
  lines.on("line", (l) => waiting.shift()?.(l));
  const next = (prefix: string, ms = 120_000) =>
    new Promise<string>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`go-control-plane baseline: no "${prefix}" within ${ms} ms`)), ms);
      waiting.push((l) => {
        clearTimeout(t);
        if (!l.startsWith(prefix)) reject(new Error(`go-control-plane baseline said "${l}", expected "${prefix} …"`));
        else resolve(l.slice(prefix.length).trim());
      });
    });
  const port = Number(await next("port"));
  return {
    port,
    set: async () => {
      child.stdin?.write("set\n");
      return Number(await next("set"));
    },
    peakRss: async () => {
      child.stdin?.write("stats\n");
      return Number(await next("stats"));
    },
    stop: async () => {
      child.stdin?.end();
      await exitOrKill(child, 3000);
    },
  };
}
