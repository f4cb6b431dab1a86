// A server under test in a process of its own, so its memory and CPU are
// its own: forked with IPC, it reports `{ ev: "ready", port }`, then answers
// requests `{ id, cmd, ... }` with `{ id, ... }`. Killed on stop.
import { type ChildProcess, fork } from "node:child_process";
import fs from "node:fs";
import { Session } from "node:inspector/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { tuneHeapGrowth } from "@xdskit/ads-server";

// Server processes run the built JavaScript; under a TypeScript loader (the
// test runner runs the sources) the sibling dist/ holds it.
const here = import.meta.url.endsWith(".ts")
  ? path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../dist")
  : path.dirname(fileURLToPath(import.meta.url));

/** A running server process. */
export interface ServerProcess {
  readonly port: number;
  readonly pid: number;
  /** Sends a command and resolves with the reply. */
  request<T = Record<string, unknown>>(cmd: string, args?: Record<string, unknown>, timeoutMs?: number): Promise<T>;
  stop(): Promise<void>;
}

/** Forks `servers/<name>.js` with `args` and waits until it listens. */
export async function startServerProcess(
  name: string,
  args: Record<string, unknown>,
  timeoutMs = 120_000,
): Promise<ServerProcess> {
  const child: ChildProcess = fork(path.join(here, "servers", `${name}.js`), [JSON.stringify(args)], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
    // XDSKIT_BENCH_PROF=DIR writes a CPU profile of every server process there;
    // XDSKIT_BENCH_SERVER_ARGS adds Node options (e.g. --trace-gc) to them.
    execArgv: [
      "--expose-gc",
      ...(process.env.XDSKIT_BENCH_SERVER_ARGS?.split(" ").filter(Boolean) ?? []),
      ...(process.env.XDSKIT_BENCH_PROF ? ["--cpu-prof", `--cpu-prof-dir=${process.env.XDSKIT_BENCH_PROF}`] : []),
    ],
  });
  const waiters = new Map<number, (m: Record<string, unknown>) => void>();
  let nextId = 0;
  let exited = false;
  const ready = new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name}: not ready within ${timeoutMs} ms`)), timeoutMs);
    child.on("message", (m: Record<string, unknown>) => {
      if (m.ev === "ready") {
        clearTimeout(timer);
        resolve(m.port as number);
      } else if (m.ev === "error") {
        clearTimeout(timer);
        reject(new Error(`${name}: ${m.message}`));
      } else if (typeof m.id === "number") {
        waiters.get(m.id)?.(m);
        waiters.delete(m.id);
      }
    });
    child.on("exit", (code) => {
      exited = true;
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code}`));
      for (const w of waiters.values()) w({ error: `${name} exited with ${code}` });
    });
  });
  const port = await ready;
  return {
    port,
    pid: child.pid ?? -1,
    request: <T>(cmd: string, extra: Record<string, unknown> = {}, ms = 120_000) =>
      new Promise<T>((resolve, reject) => {
        if (exited) return reject(new Error(`${name} is not running`));
        const id = ++nextId;
        const timer = setTimeout(() => reject(new Error(`${name}: no answer to ${cmd} within ${ms} ms`)), ms);
        waiters.set(id, (m) => {
          clearTimeout(timer);
          if (typeof m.error === "string") reject(new Error(`${name}: ${m.error}`));
          else resolve(m as T);
        });
        child.send({ id, cmd, ...extra });
      }),
    stop: async () => {
      if (exited) return;
      // SIGINT lets a profiled process write its profile.
      child.kill(process.env.XDSKIT_BENCH_PROF ? "SIGINT" : "SIGTERM");
      await exitOrKill(child, 3000);
    },
  };
}

/** Waits for a child asked to stop to exit, and kills it after `graceMs`. */
export function exitOrKill(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      child.kill("SIGKILL");
      resolve();
    }, graceMs);
    child.once("exit", () => {
      clearTimeout(t);
      resolve();
    });
  });
}

/** What every server process reports about itself. */
export interface ProcessStats {
  /** Resident memory now, and the highest it has been, in bytes. */
  readonly rss: number;
  readonly peakRss: number;
  /** Heap used plus external memory after a forced GC, in bytes. */
  readonly heap: number;
  /** CPU time used so far (user + system), in ms. */
  readonly cpuMs: number;
}

/** Measures this process (a server) for the bench; forces a GC first when it can. */
export function processStats(): ProcessStats {
  // Twice: V8 lowers its external-memory count for freed ArrayBuffers only as
  // it sweeps them after a collection, so right after one GC the figure can
  // still count 100 MB and more of buffers already dead; the second GC waits
  // for that sweep to finish.
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  gc?.();
  const m = process.memoryUsage();
  const cpu = process.cpuUsage();
  return {
    rss: m.rss,
    peakRss: process.resourceUsage().maxRSS * 1024,
    heap: m.heapUsed + m.external,
    cpuMs: (cpu.user + cpu.system) / 1000,
  };
}

/** Runs a server process's command loop: `handlers[cmd](message)` answers each request. */
export function serve(handlers: Record<string, (m: Record<string, unknown>) => unknown | Promise<unknown>>): void {
  // Every server process (the floor too) runs as minimal-pilot does.
  tuneLikePilot();
  const all = {
    ...handlers,
    profile: windowProfiler(),
    // CPU so far without the forced GC of `stats` (for polling until a server is quiet).
    cpu: () => {
      const c = process.cpuUsage();
      return { cpuMs: (c.user + c.system) / 1000 };
    },
  };
  process.on("message", async (m: { id: number; cmd: string }) => {
    try {
      const h = all[m.cmd as keyof typeof all];
      if (!h) throw new Error(`unknown command "${m.cmd}"`);
      const out = (await h(m as unknown as Record<string, unknown>)) ?? {};
      process.send?.({ id: m.id, ...(out as object) });
    } catch (err) {
      process.send?.({ id: m.id, error: err instanceof Error ? err.message : String(err) });
    }
  });
  process.on("disconnect", () => process.exit(0));
  // Never outlive a bench run that forgot to stop it.
  setTimeout(() => process.exit(3), 15 * 60_000).unref();
}

// XDSKIT_BENCH_PROF_WINDOW=DIR: a CPU profile of a measured window only (the
// changes, not the full config before them), written to DIR on stop.
function windowProfiler(): (m: Record<string, unknown>) => Promise<unknown> {
  let session: Session | undefined;
  return async (m) => {
    const dir = process.env.XDSKIT_BENCH_PROF_WINDOW;
    if (!dir) return {};
    if (m.on === true) {
      session = new Session();
      session.connect();
      await session.post("Profiler.enable");
      await session.post("Profiler.start");
      return {};
    }
    if (!session) return {};
    const { profile } = await session.post("Profiler.stop");
    session.disconnect();
    session = undefined;
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `window-${process.pid}-${Date.now()}.cpuprofile`);
    fs.writeFileSync(file, JSON.stringify(profile));
    return { file };
  };
}

/** Starts (`on`) or stops a window profile when XDSKIT_BENCH_PROF_WINDOW is set; a no-op otherwise. */
export async function profileWindow(server: ServerProcess, on: boolean): Promise<void> {
  if (process.env.XDSKIT_BENCH_PROF_WINDOW) await server.request("profile", { on });
}

/** The heap growth minimal-pilot sets, for a process that serves; XDSKIT_BENCH_HEAP_GROWTH=0 keeps V8's own. */
export function tuneLikePilot(): void {
  if (process.env.XDSKIT_BENCH_HEAP_GROWTH !== "0") tuneHeapGrowth();
}
