// The grpc-go (and grpc-java) xDS client drivers: real proxyless clients
// reading a bootstrap, driven by JSON lines (see interop/grpc-go-client).
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";
import { waitFor } from "./wait.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");

/** What a driver answers for a batch of calls. */
export interface DriverAnswer {
  readonly answers: Record<string, number>;
  /** Calls per status code name (`OK`, `UNAVAILABLE`…). */
  readonly codes?: Record<string, number>;
  readonly errors: readonly string[];
  readonly errorCount: number;
  readonly notAttempted: number;
  /** Median and longest call time (grpc-js driver). */
  readonly p50Ms?: number;
  readonly maxMs?: number;
}

/** Options of a batch of calls. */
export interface CallOptions {
  readonly deadlineMs?: number;
  readonly budgetMs?: number;
  /** Request metadata (headers) of every call. */
  readonly metadata?: Record<string, string>;
  /** Calls in flight at once (grpc-js driver; default 1). */
  readonly concurrency?: number;
  /** Concurrent workers start this far apart, ms (grpc-js driver). */
  readonly staggerMs?: number;
}

/** A running driver. */
export interface Driver {
  /** Makes `count` calls to `target`; resolves with who answered. */
  call(target: string, count: number, opts?: CallOptions): Promise<DriverAnswer>;
  /** Sends any request line (e.g. `{serve: …}`) and resolves with its answer. */
  request<T = Record<string, unknown>>(body: Record<string, unknown>, timeoutMs?: number): Promise<T>;
  log(): string;
  stop(): Promise<void>;
}

/** Starts the grpc-js driver (interop/src/harness/grpc-js-driver.ts) with a bootstrap and extra environment. */
export function startGrpcJsDriver(bootstrap: string, env: Record<string, string> = {}): Driver {
  // The built driver: tests run from source, the driver runs as a user's program would.
  const script = path.join(ROOT, "interop/dist/harness/grpc-js-driver.js");
  if (!fs.existsSync(script)) throw new Error(`${script} is missing: run npm run build first`);
  return startDriver(process.execPath, [script], bootstrap, env);
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

/** Builds the grpc-java driver once (Java 17 and Maven must be on PATH); returns its launcher. */
export function grpcJavaLauncher(): string {
  const dir = path.join(ROOT, "interop/grpc-java-client");
  const jar = path.join(dir, "target/javaxds.jar");
  const sources = [path.join(dir, "pom.xml"), path.join(dir, "src/main/java/javaxds/Main.java")];
  const newest = Math.max(...sources.map((f) => fs.statSync(f).mtimeMs));
  if (!fs.existsSync(jar) || fs.statSync(jar).mtimeMs < newest) {
    const r = spawnSync("mvn", ["-B", "-q", "package", "-DskipTests"], {
      cwd: dir,
      encoding: "utf8",
      timeout: 600_000,
    });
    if (r.error) throw new Error(`the grpc-java interop tests need Maven and Java 17 on PATH: ${r.error.message}`);
    if (r.status !== 0) throw new Error(`building the grpc-java driver failed:\n${r.stdout}\n${r.stderr}`);
  }
  return path.join(dir, "run.sh");
}

/** A bootstrap for a proxyless client of `xdsPort`, as the drivers read it. */
export function writeBootstrap(
  xdsPort: number,
  node: Record<string, unknown>,
  channelCreds: Record<string, unknown> = { type: "insecure" },
  extra: Record<string, unknown> = {},
): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "xdskit-bootstrap-"));
  const file = path.join(dir, "bootstrap.json");
  fs.writeFileSync(
    file,
    JSON.stringify({
      xds_servers: [{ server_uri: `127.0.0.1:${xdsPort}`, channel_creds: [channelCreds], server_features: ["xds_v3"] }],
      node: { locality: { region: "local", zone: "a" }, ...node },
      ...extra,
    }),
  );
  return file;
}

/** Starts a driver binary with a bootstrap. */
export function startDriver(
  command: string,
  args: readonly string[],
  bootstrap: string,
  env: Record<string, string> = {},
): Driver {
  const child: ChildProcess = spawn(command, [...args], {
    env: { ...process.env, ...env, GRPC_XDS_BOOTSTRAP: bootstrap },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let err = "";
  // A driver that died is reported by the call that waits for it, not by a crash of the test.
  child.stdin?.on("error", (e) => {
    err += `\n[stdin: ${e.message}]`;
  });
  child.stderr?.on("data", (d) => {
    err += d;
    if (err.length > 200_000) err = err.slice(-100_000);
  });
  const lines = readline.createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const waiting = new Map<number, (a: never) => void>();
  lines.on("line", (l) => {
    try {
      const m = JSON.parse(l) as { id: number };
      waiting.get(m.id)?.(m as never);
      waiting.delete(m.id);
    } catch {
      // not an answer line
    }
  });
  let id = 0;
  const request = <T>(body: Record<string, unknown>, timeoutMs: number) =>
    new Promise<T>((resolve, reject) => {
      const n = ++id;
      const timer = setTimeout(
        () => reject(new Error(`the driver did not answer within ${timeoutMs} ms:\n${err.slice(-3000)}`)),
        timeoutMs,
      );
      waiting.set(n, (a: T) => {
        clearTimeout(timer);
        resolve(a);
      });
      child.stdin?.write(`${JSON.stringify({ ...body, id: n })}\n`);
    });
  return {
    request: (body, timeoutMs = 20_000) => request(body, timeoutMs),
    call: (target, count, opts = {}) => {
      const budget = opts.budgetMs ?? 15_000;
      return request<DriverAnswer>(
        {
          target,
          count,
          deadlineMs: opts.deadlineMs ?? 3000,
          budgetMs: budget,
          ...(opts.metadata ? { metadata: opts.metadata } : {}),
          ...(opts.concurrency ? { concurrency: opts.concurrency } : {}),
          ...(opts.staggerMs ? { staggerMs: opts.staggerMs } : {}),
        },
        budget + 10_000,
      );
    },
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

/**
 * Runs batches of calls until one satisfies `ok` (30 s at most); the failure
 * names the last batch, the client's last words and `context()` (the pilot's).
 */
export function untilBatch(
  what: string,
  d: Driver,
  batch: () => Promise<DriverAnswer>,
  ok: (a: DriverAnswer) => boolean,
  context: () => string,
): Promise<DriverAnswer> {
  let last: DriverAnswer | undefined;
  return waitFor(
    what,
    async () => {
      last = await batch();
      return ok(last) ? last : undefined;
    },
    30_000,
    200,
  ).catch((err: Error) => {
    throw new Error(
      `${err.message}\nlast batch: ${JSON.stringify(last)}\nclient:\n${d.log().slice(-2000)}\n${context()}`,
    );
  });
}
