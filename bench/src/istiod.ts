// A real istiod as a baseline: the pilot-discovery binary named by
// XDSKIT_BENCH_ISTIOD (built by the user from Istio's sources; the bench never
// builds or downloads it), run without Kubernetes on a folder of config files
// (`--configDir`), every port on loopback. It is measured from outside, through
// /proc, and answers the bench's `stats` and `cpu` like a server process.
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { type ProcessStats, type ServerProcess, exitOrKill } from "./child.js";

/** The pilot-discovery binary to compare with, or why there is none. */
export function istiodBinary(): { path: string } | { missing: string } {
  const file = process.env.XDSKIT_BENCH_ISTIOD;
  if (!file) return { missing: "set XDSKIT_BENCH_ISTIOD to a pilot-discovery binary built from Istio's sources" };
  try {
    fs.accessSync(file, fs.constants.X_OK);
  } catch {
    return { missing: `XDSKIT_BENCH_ISTIOD=${file} is not an executable file` };
  }
  return { path: file };
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** RSS now and at its highest (VmRSS, VmHWM) and CPU so far (utime + stime) of a process, from /proc. */
export function procStats(pid: number): ProcessStats {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? Number.NaN) * 1024;
  // Fields 14 and 15 of /proc/PID/stat, after the command name in parentheses.
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  // Linux reports CPU time in clock ticks of 100 per second on every common configuration.
  return { rss: kb("VmRSS"), peakRss: kb("VmHWM"), heap: Number.NaN, cpuMs: ticks * 10 };
}

/**
 * Starts istiod on `configDir` and resolves once its plaintext xDS port
 * (what a sidecar dials on 15010) listens. `logFile` gets what it prints.
 */
export async function startIstiod(
  binary: string,
  configDir: string,
  logFile: string,
  timeoutMs = 120_000,
): Promise<ServerProcess> {
  const [grpc, http, monitoring] = [await freePort(), await freePort(), await freePort()];
  const mesh = path.join(path.dirname(logFile), "istiod-mesh.yaml");
  fs.writeFileSync(mesh, `defaultConfig:\n  discoveryAddress: 127.0.0.1:${grpc}\n`);
  const log = fs.openSync(logFile, "w");
  const child: ChildProcess = spawn(
    binary,
    [
      "discovery",
      "--registries=",
      `--configDir=${configDir}`,
      `--meshConfig=${mesh}`,
      `--networksConfig=${path.join(path.dirname(logFile), "no-networks.yaml")}`,
      `--grpcAddr=127.0.0.1:${grpc}`,
      `--httpAddr=127.0.0.1:${http}`,
      "--httpsAddr=",
      "--secureGRPCAddr=",
      `--monitoringAddr=127.0.0.1:${monitoring}`,
      "--ctrlz_port=0",
    ],
    {
      stdio: ["ignore", log, log],
      // istiod admits 15 + 5 × cores new streams a second (25 here) and refuses
      // the rest with RESOURCE_EXHAUSTED after a second's wait, which the
      // bench's load does not retry; the fleet connects at once, as it does
      // to xdskit, so the limit is taken out of the way (an infinite rate).
      env: { ...process.env, POD_NAMESPACE: "istio-system", PILOT_MAX_REQUESTS_PER_SECOND: "Inf" },
    },
  );
  fs.closeSync(log);
  let exited: number | null | undefined;
  child.on("exit", (code) => {
    exited = code;
  });
  const deadline = Date.now() + timeoutMs;
  // The folder the log is in goes with the run: what went wrong is told here.
  const tail = () => fs.readFileSync(logFile, "utf8").trimEnd().split("\n").slice(-15).join("\n");
  for (;;) {
    if (exited !== undefined) throw new Error(`istiod exited with ${exited}; its last lines:\n${tail()}`);
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`istiod did not listen on ${grpc} within ${timeoutMs} ms; its last lines:\n${tail()}`);
    }
    const up = await new Promise<boolean>((resolve) => {
      const s = net.connect(grpc, "127.0.0.1", () => {
        s.destroy();
        resolve(true);
      });
      s.on("error", () => resolve(false));
    });
    if (up) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const pid = child.pid ?? -1;
  return {
    port: grpc,
    pid,
    request: async <T>(cmd: string) => {
      if (exited !== undefined) throw new Error(`istiod is not running (exited with ${exited})`);
      const s = procStats(pid);
      if (cmd === "stats") return { ...s, readMs: Number.NaN } as T;
      if (cmd === "cpu") return { cpuMs: s.cpuMs } as T;
      if (cmd === "profile") return {} as T;
      throw new Error(`istiod answers stats and cpu, not ${cmd}`);
    },
    stop: async () => {
      if (exited !== undefined) return;
      child.kill("SIGTERM");
      await exitOrKill(child, 5000);
    },
  };
}
