// The grpc-go (and grpc-java) xDS client drivers: real proxyless clients
// reading a bootstrap, driven by JSON lines (see interop/grpc-go-client).
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");

/** What a driver answers for a batch of calls. */
export interface DriverAnswer {
  readonly answers: Record<string, number>;
  readonly errors: readonly string[];
  readonly errorCount: number;
  readonly notAttempted: number;
}

/** A running driver. */
export interface Driver {
  /** Makes `count` sequential calls to `target`; resolves with who answered. */
  call(target: string, count: number, opts?: { deadlineMs?: number; budgetMs?: number }): Promise<DriverAnswer>;
  log(): string;
  stop(): Promise<void>;
}

/** Builds the grpc-go driver once into .tmp (Go must be on PATH). */
export function grpcGoBinary(): string {
  const out = path.join(ROOT, ".tmp/grpc-go-client");
  const src = path.join(ROOT, "interop/grpc-go-client");
  const newest = Math.max(...fs.readdirSync(src).map((f) => fs.statSync(path.join(src, f)).mtimeMs));
  if (fs.existsSync(out) && fs.statSync(out).mtimeMs >= newest) return out;
  const r = spawnSync("go", ["build", "-o", out, "."], { cwd: src, encoding: "utf8", timeout: 600_000 });
  if (r.error) throw new Error(`the grpc-go interop tests need Go on PATH: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`building the grpc-go driver failed:\n${r.stderr}`);
  return out;
}

/** A bootstrap for a proxyless client of `xdsPort`, as the drivers read it. */
export function writeBootstrap(
  xdsPort: number,
  node: Record<string, unknown>,
  channelCreds: Record<string, unknown> = { type: "insecure" },
): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "xdskit-bootstrap-"));
  const file = path.join(dir, "bootstrap.json");
  fs.writeFileSync(
    file,
    JSON.stringify({
      xds_servers: [{ server_uri: `127.0.0.1:${xdsPort}`, channel_creds: [channelCreds], server_features: ["xds_v3"] }],
      node: { locality: { region: "local", zone: "a" }, ...node },
    }),
  );
  return file;
}

/** Starts a driver binary with a bootstrap. */
export function startDriver(command: string, args: readonly string[], bootstrap: string): Driver {
  const child: ChildProcess = spawn(command, [...args], {
    env: { ...process.env, GRPC_XDS_BOOTSTRAP: bootstrap },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let err = "";
  child.stderr?.on("data", (d) => {
    err += d;
    if (err.length > 200_000) err = err.slice(-100_000);
  });
  const lines = readline.createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const waiting = new Map<number, (a: DriverAnswer) => void>();
  lines.on("line", (l) => {
    try {
      const m = JSON.parse(l) as DriverAnswer & { id: number };
      waiting.get(m.id)?.(m);
      waiting.delete(m.id);
    } catch {
      // not an answer line
    }
  });
  let id = 0;
  return {
    call: (target, count, opts = {}) =>
      new Promise((resolve, reject) => {
        const n = ++id;
        const budget = opts.budgetMs ?? 15_000;
        const timer = setTimeout(
          () => reject(new Error(`the driver did not answer within ${budget + 10_000} ms:\n${err.slice(-3000)}`)),
          budget + 10_000,
        );
        waiting.set(n, (a) => {
          clearTimeout(timer);
          resolve(a);
        });
        child.stdin?.write(
          `${JSON.stringify({ id: n, target, count, deadlineMs: opts.deadlineMs ?? 3000, budgetMs: budget })}\n`,
        );
      }),
    log: () => err,
    stop: async () => {
      child.stdin?.end();
      await new Promise((r) => {
        const t = setTimeout(() => {
          child.kill("SIGKILL");
          r(undefined);
        }, 5000);
        child.once("exit", () => {
          clearTimeout(t);
          r(undefined);
        });
      });
    },
  };
}
