// minimal-pilot as a process of its own, for the tests that kill, cut and
// restart what it talks to: its ports read from its log, its output kept.
import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../dist/main.js");

/** Polls `fn` every 50 ms until it gives a value; throws naming `what` after `ms`. */
export async function until<T>(
  what: string,
  fn: () => T | undefined | Promise<T | undefined>,
  ms = 15_000,
): Promise<T> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const v = await fn();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A running pilot process. */
export interface PilotProcess {
  readonly xdsPort: number;
  readonly adminPort: number;
  /** GETs an admin page. */
  admin(page: string): Promise<Response>;
  /** SIGKILLs it (a crash, not a drain) and waits until it is gone. */
  kill(): Promise<void>;
  /** Everything it printed so far. */
  output(): string;
}

/** Starts `main.js --port 0 --admin-port 0 …args`; with `ready`, waits until `/readyz` answers 200. */
export async function startPilot(args: readonly string[], options: { ready?: boolean } = {}): Promise<PilotProcess> {
  const child: ChildProcess = spawn(process.execPath, [MAIN, "--port", "0", "--admin-port", "0", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout?.on("data", (d) => (out += d));
  child.stderr?.on("data", (d) => (out += d));
  const gone = () => child.exitCode !== null || child.signalCode !== null;
  const port = (what: string, re: RegExp) =>
    until(what, () => {
      if (gone()) throw new Error(`minimal-pilot exited before ${what}:\n${out}`);
      return out.match(re)?.[1];
    });
  const xdsPort = Number(await port("the xds port", /xds listening on [\d.]+:(\d+)/));
  const adminPort = Number(await port("the admin port", /admin listening on [\d.]+:(\d+)/));
  const admin = (page: string) => fetch(`http://127.0.0.1:${adminPort}${page}`);
  if (options.ready !== false) {
    await until("the pilot to be ready", async () =>
      (await admin("/readyz").catch(() => undefined))?.ok ? true : undefined,
    );
  }
  return {
    xdsPort,
    adminPort,
    admin,
    output: () => out,
    kill: () =>
      new Promise((resolve) => {
        // A killed child has a signalCode and no exitCode; either means gone.
        if (gone()) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGKILL");
      }),
  };
}
