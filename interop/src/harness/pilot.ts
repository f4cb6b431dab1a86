// minimal-pilot as a real process, as a user runs it, with a mesh file the
// test edits.
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { waitFor } from "./wait.js";

const MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../examples/minimal-pilot/dist/main.js");

/** A running pilot. */
export interface Pilot {
  readonly xdsPort: number;
  readonly adminPort: number;
  readonly meshPath: string;
  /** Everything it printed so far. */
  output(): string;
  /** Replaces the mesh file (the pilot picks it up by itself). */
  writeMesh(yaml: string): void;
  /** GETs an admin page and parses it as JSON. */
  admin<T = unknown>(page: string): Promise<T>;
  stop(): Promise<void>;
}

/** Starts minimal-pilot on free ports with a mesh file. */
export async function startPilot(mesh: string, extraArgs: readonly string[] = []): Promise<Pilot> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "xdskit-interop-"));
  const meshPath = path.join(dir, "mesh.yaml");
  fs.writeFileSync(meshPath, mesh);
  const child: ChildProcess = spawn(
    process.execPath,
    [MAIN, "--port", "0", "--admin-port", "0", "--config", meshPath, "--debounce", "20", ...extraArgs],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let out = "";
  child.stdout?.on("data", (d) => (out += d));
  child.stderr?.on("data", (d) => (out += d));
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const xdsPort = Number(
    await waitFor("the pilot's xds port", () => out.match(/xds listening on [\d.]+:(\d+)/)?.[1]).catch((err) => {
      throw new Error(`${err.message}\n${out}`);
    }),
  );
  const adminPort = Number(
    await waitFor("the pilot's admin port", () => out.match(/admin listening on [\d.]+:(\d+)/)?.[1]),
  );
  return {
    xdsPort,
    adminPort,
    meshPath,
    output: () => out,
    writeMesh: (yaml) => fs.writeFileSync(meshPath, yaml),
    admin: async <T>(page: string) => {
      const res = await fetch(`http://127.0.0.1:${adminPort}${page}`);
      const text = await res.text();
      if (!res.ok) throw new Error(`${page}: HTTP ${res.status}: ${text}`);
      return JSON.parse(text) as T;
    },
    stop: async () => {
      if (child.exitCode === null) child.kill("SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (child.exitCode === null) child.kill("SIGKILL");
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
