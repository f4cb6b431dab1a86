// Runs inside a fresh network namespace, as root (the capture test starts it
// with `ip netns exec`): backends, minimal-pilot and an Envoy sidecar running
// as uid 1337, iptables rules that send every outbound TCP connection not
// made by that user (or to the loopback) to 15001, as Istio's init container
// does; then an application connects to service addresses and the results go
// to stdout as one JSON line.
import { execFileSync } from "node:child_process";
import http from "node:http";
import type net from "node:net";
import { type Backend, httpBackend } from "../harness/backends.js";
import { startEnvoy } from "../harness/envoy.js";
import { startPilot } from "../harness/pilot.js";
import { waitFor } from "../harness/wait.js";

const PROXY_UID = 1337;
/** An address of the namespace's loopback range: a "service IP" nothing listens on. */
const SERVICE_IP = "10.200.0.50";
/** A second loopback address, where the TCP service's endpoint listens. */
const DB_IP = "10.200.0.7";
/** An address outside the mesh, where a server the mesh does not know listens. */
const OUTSIDE_IP = "10.200.0.2";

function iptables(...args: string[]): void {
  execFileSync("iptables", ["-t", "nat", ...args]);
}

function httpGet(ip: string, port: number, host: string): Promise<string> {
  return new Promise((resolve) => {
    const req = http.request({ host: ip, port, path: "/", headers: { host }, agent: false }, (res) => {
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve(`${res.statusCode} ${body}`));
    });
    req.setTimeout(5000, () => req.destroy(new Error("timeout")));
    req.on("error", (e) => resolve(`error ${e.message}`));
    req.end();
  });
}

async function listenOn(name: string, ip: string): Promise<Backend> {
  const server = http.createServer((_req, res) => res.end(name));
  await new Promise<void>((r) => server.listen(0, ip, () => r()));
  return {
    name,
    port: (server.address() as net.AddressInfo).port,
    stop: () => new Promise((r) => server.close(() => r())),
  };
}

async function main(): Promise<void> {
  const web = await httpBackend("web-a");
  const other = await httpBackend("other-b");
  const db = await listenOn("db-a", DB_IP);
  const outside = await listenOn("outside", OUTSIDE_IP);
  const pilot = await startPilot(`services:
  - { name: web, protocol: http, endpoints: [{ address: 127.0.0.1, port: ${web.port} }] }
  - { name: other, protocol: http, endpoints: [{ address: 127.0.0.1, port: ${other.port} }] }
  - { name: db, protocol: tcp, endpoints: [{ address: ${DB_IP}, port: ${db.port} }] }
`);
  const envoy = await startEnvoy({
    nodeId: "sidecar~10.200.0.9~app-1.default~default.svc.cluster.local",
    xdsPort: pilot.xdsPort,
    uid: PROXY_UID,
  });
  const result: Record<string, unknown> = {};
  try {
    await waitFor("Envoy's listeners", async () =>
      (await envoy.stat("listener_manager.total_listeners_active")) === 5 ? true : undefined,
    );
    // Istio's capture: the proxy's own traffic and loopback traffic pass; every other outbound TCP connection goes to 15001.
    iptables("-A", "OUTPUT", "-p", "tcp", "-m", "owner", "--uid-owner", String(PROXY_UID), "-j", "RETURN");
    iptables("-A", "OUTPUT", "-p", "tcp", "-d", "127.0.0.0/8", "-j", "RETURN");
    iptables("-A", "OUTPUT", "-p", "tcp", "-j", "REDIRECT", "--to-ports", "15001");
    result.web = await httpGet(SERVICE_IP, web.port, "web");
    result.other = await httpGet(SERVICE_IP, other.port, "other");
    result.db = await httpGet(DB_IP, db.port, "db");
    result.outside = await httpGet(OUTSIDE_IP, outside.port, "outside");
    const stats = await envoy.stats();
    result.listenerConnections = Object.fromEntries(
      [...stats].filter(([k, v]) => /^listener\.0\.0\.0\.0_\d+\.downstream_cx_total$/.test(k) && v > 0),
    );
    result.passthrough = stats.get("cluster.PassthroughCluster.upstream_cx_total") ?? 0;
    result.virtualOutbound = stats.get("listener.0.0.0.0_15001.downstream_cx_total") ?? 0;
    result.ports = { web: web.port, other: other.port, db: db.port };
  } finally {
    await envoy.stop();
    await pilot.stop();
    for (const b of [web, other, db, outside]) await b.stop();
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`capture scenario: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
