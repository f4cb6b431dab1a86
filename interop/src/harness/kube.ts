// A Kubernetes world for the interop tests: a real control plane (etcd,
// kube-apiserver, the EndpointSlice controller) and pods that really serve.
// The API server refuses loopback endpoints, so pods get addresses of their
// own: a network namespace joined to this one by a veth pair, the host side
// 10.213.<n>.1 and pods 10.213.<n>.2… inside, each backend a process run in
// the namespace with `ip netns exec`. Traffic goes only to the loopback and
// into that namespace. Needs root and `ip` (iproute2).
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { TestCluster, type TestKube, kubeMissing, startTestKube } from "@xdskit/source-kubernetes/testing";
import { waitFor } from "./wait.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");

/** A backend serving as a pod, inside the pods' network namespace. */
export interface PodBackend {
  readonly name: string;
  readonly ip: string;
  readonly port: number;
  stop(): Promise<void>;
}

/** A control plane, a client for it, and a network for pods. */
export interface KubeWorld {
  readonly kube: TestKube;
  readonly cluster: TestCluster;
  /** The pods' network namespace. */
  readonly netns: string;
  /** The i-th pod address (i from 0). */
  podIp(i: number): string;
  /** Starts a gRPC echo backend named `name` at `ip:port` in the namespace (answers with its name). */
  backend(name: string, ip: string, port: number): Promise<PodBackend>;
  stop(): Promise<void>;
}

function need(cmd: string, pkg: string): void {
  if (spawnSync("sh", ["-c", `command -v ${cmd}`]).status !== 0) {
    throw new Error(`the Kubernetes tests need \`${cmd}\` (Debian: apt-get install -y ${pkg})`);
  }
}

/** Starts the control plane and the pods' network (`subnet` picks 10.213.<subnet>.0/24). */
export async function startKubeWorld(subnet: number): Promise<KubeWorld> {
  if (process.getuid?.() !== 0)
    throw new Error("the Kubernetes tests give pods addresses in a network namespace: run as root");
  need("ip", "iproute2");
  const missing = kubeMissing();
  if (missing) throw new Error(missing);
  const netns = `xk8s-${process.pid}`;
  const host = `vk${process.pid % 100000}h`;
  const peer = `vk${process.pid % 100000}p`;
  const prefix = `10.213.${subnet}`;
  const run = (...args: string[]) => execFileSync("ip", args);
  const inNs = (...args: string[]) => execFileSync("ip", ["netns", "exec", netns, ...args]);
  run("netns", "add", netns);
  const backends: ChildProcess[] = [];
  const teardown = () => {
    for (const b of backends) b.kill("SIGKILL");
    spawnSync("ip", ["link", "del", host]);
    spawnSync("ip", ["netns", "del", netns]);
  };
  try {
    run("link", "add", host, "type", "veth", "peer", "name", peer);
    run("link", "set", peer, "netns", netns);
    run("addr", "add", `${prefix}.1/24`, "dev", host);
    run("link", "set", host, "up");
    inNs("ip", "link", "set", "lo", "up");
    inNs("ip", "link", "set", peer, "up");
    for (let i = 0; i < 40; i++) inNs("ip", "addr", "add", `${prefix}.${i + 2}/24`, "dev", peer);
  } catch (err) {
    teardown();
    throw err;
  }
  let kube: TestKube;
  try {
    kube = await startTestKube();
  } catch (err) {
    teardown();
    throw err;
  }
  return {
    kube,
    cluster: new TestCluster(kube.config),
    netns,
    podIp: (i) => `${prefix}.${i + 2}`,
    backend: async (name, ip, port) => {
      const child = spawn(
        "ip",
        [
          "netns",
          "exec",
          netns,
          process.execPath,
          path.join(ROOT, "interop/dist/kube/pod-backend.js"),
          name,
          ip,
          String(port),
        ],
        { stdio: ["ignore", "pipe", "pipe"] },
      );
      backends.push(child);
      let out = "";
      child.stdout?.on("data", (d) => (out += d));
      child.stderr?.on("data", (d) => (out += d));
      await waitFor(`pod backend ${name} on ${ip}:${port}`, () => {
        if (child.exitCode !== null) throw new Error(`pod backend ${name} exited:\n${out}`);
        return out.includes("serving") ? true : undefined;
      });
      return {
        name,
        ip,
        port,
        stop: async () => {
          child.kill("SIGKILL");
          await new Promise((r) => (child.exitCode !== null ? r(undefined) : child.once("exit", r)));
        },
      };
    },
    stop: async () => {
      await kube.stop();
      teardown();
    },
  };
}
