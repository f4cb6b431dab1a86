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
  /** Which client this is (e.g. `grpc-go`), for messages. */
  readonly name: string;
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

/** The client a driver command runs, for messages: grpc-js, grpc-go or grpc-java. */
function driverName(command: string, args: readonly string[]): string {
  const all = [command, ...args].map((a) => path.basename(a)).join(" ");
  if (all.includes("grpc-js-driver")) return "grpc-js";
  if (all.includes("grpc-go-client")) return "grpc-go";
  if (all.includes("run.sh") || all.includes("javaxds")) return "grpc-java";
  return path.basename(command);
}

/**
 * The signal that makes each driver write its stacks and carry on: grpc-go's
 * driver handles SIGUSR1, the JVM prints a thread dump on SIGQUIT, the
 * grpc-js driver reports its batches and channels on SIGUSR2.
 */
const STACK_SIGNAL: Record<string, NodeJS.Signals | undefined> = {
  "grpc-go": "SIGUSR1",
  "grpc-java": "SIGQUIT",
  "grpc-js": "SIGUSR2",
};

/** Starts a driver binary with a bootstrap. */
export function startDriver(
  command: string,
  args: readonly string[],
  bootstrap: string,
  env: Record<string, string> = {},
): Driver {
  const name = driverName(command, args);
  const child: ChildProcess = spawn(command, [...args], {
    env: { ...process.env, ...env, GRPC_XDS_BOOTSTRAP: bootstrap },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let err = "";
  const append = (text: string) => {
    err += text;
    if (err.length > 200_000) err = err.slice(-100_000);
  };
  // A driver that died is reported by the call that waits for it, not by a crash of the test.
  child.stdin?.on("error", (e) => append(`\n[stdin: ${e.message}]`));
  child.stderr?.on("data", (d) => append(String(d)));
  const lines = readline.createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const waiting = new Map<number, { resolve: (a: never) => void; reject: (e: Error) => void }>();
  lines.on("line", (l) => {
    let m: { id?: unknown } | undefined;
    try {
      m = JSON.parse(l) as { id?: unknown };
    } catch {
      // Not an answer: grpc-java's thread dump on SIGQUIT, for one, is written to stdout.
      append(`${l}\n`);
      return;
    }
    const w = typeof m?.id === "number" ? waiting.get(m.id) : undefined;
    if (!w) return;
    waiting.delete(m?.id as number);
    w.resolve(m as never);
  });
  let exited: string | undefined;
  const exitedError = () => new Error(`the ${name} driver ${exited}:\n${err.slice(-3000)}`);
  child.once("exit", (code, signal) => {
    exited = signal ? `killed by ${signal}` : `exited with code ${code}`;
    append(`\n[${name} driver ${exited}]`);
    // Whoever waits for an answer hears now, not after its timeout.
    for (const w of waiting.values()) w.reject(exitedError());
    waiting.clear();
  });
  let id = 0;
  const request = <T>(body: Record<string, unknown>, timeoutMs: number) =>
    new Promise<T>((resolve, reject) => {
      if (exited) {
        reject(exitedError());
        return;
      }
      const n = ++id;
      const timer = setTimeout(async () => {
        if (!waiting.delete(n)) return;
        // A driver that hangs is asked for its stacks, so the failure says where it hangs.
        const dump = exited ? undefined : STACK_SIGNAL[name];
        const before = err.slice(-3000);
        const from = err.length;
        if (dump) {
          child.kill(dump);
          await new Promise((r) => setTimeout(r, 2000));
        }
        const stacks = dump ? `\n[its stacks on ${dump}]\n${err.slice(Math.min(from, err.length), from + 40_000)}` : "";
        reject(
          new Error(
            `the ${name} driver (pid ${child.pid}) did not answer ${JSON.stringify(body)} within ${timeoutMs} ms:\n${before}${stacks}`,
          ),
        );
      }, timeoutMs);
      waiting.set(n, {
        resolve: (a: never) => {
          clearTimeout(timer);
          resolve(a as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      child.stdin?.write(`${JSON.stringify({ ...body, id: n })}\n`);
    });
  return {
    name,
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
      `${err.message}\nlast batch: ${JSON.stringify(last)}\n${d.name} client:\n${d.log().slice(-2000)}\n${context()}`,
    );
  });
}
