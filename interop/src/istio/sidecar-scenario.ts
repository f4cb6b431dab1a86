// Runs inside a fresh network namespace, as root (istio-envoy.test.ts starts
// it with `ip netns exec`): backends on addresses of their own, minimal-pilot
// reading Istio resources from a folder, an Envoy sidecar as uid 1337 with
// Istio's capture rules, and an application calling services by name. Each of
// Istio's traffic tasks is tried on the wire; the observations, Envoy's
// config dump summary and its rejection counters go to stdout as one JSON line.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { rejections, startEnvoy } from "../harness/envoy.js";
import { startIstioPilot } from "../harness/pilot.js";
import { waitFor } from "../harness/wait.js";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const PROXY_UID = 1337;
/** The address the application dials for every HTTP service: nothing listens there; the sidecar routes by Host. */
const VIP = "10.210.100.1";

const IPS = {
  reviews: ["10.210.1.1", "10.210.1.2", "10.210.1.3"],
  ratings: "10.210.2.1",
  details: "10.210.4.1",
  other: "10.210.5.1",
  db: ["10.210.3.1", "10.210.3.2"],
  dbVip: "10.210.100.50",
  httpbin: "10.210.9.1",
  outside: "10.210.9.2",
};

interface Seen {
  count: number;
  last?: { path: string; host: string; headers: Record<string, string | string[] | undefined> };
}

// An HTTP backend answering `<name> <path>`; `x-status` sets the status,
// `x-delay-ms` delays, `x-fail-first` fails the first request of its key with 503.
function httpServer(name: string, ip: string, port: number, seen: Map<string, Seen>): Promise<http.Server> {
  const failed = new Set<string>();
  const server = http.createServer((req, res) => {
    const s = seen.get(name) ?? { count: 0 };
    s.count++;
    s.last = { path: req.url ?? "", host: req.headers.host ?? "", headers: req.headers };
    seen.set(name, s);
    const key = req.headers["x-fail-first"];
    if (typeof key === "string" && !failed.has(key)) {
      failed.add(key);
      res.writeHead(503).end(`${name} failing once`);
      return;
    }
    const delay = Math.min(Number(req.headers["x-delay-ms"] ?? 0), 5000);
    setTimeout(() => {
      res.writeHead(Number(req.headers["x-status"] ?? 200), { "x-backend": name, "x-internal": "secret" });
      res.end(`${name} ${req.url}`);
    }, delay);
  });
  return new Promise((r) => server.listen(port, ip, () => r(server)));
}

function tcpServer(name: string, ip: string, port: number): Promise<net.Server> {
  const server = net.createServer((s) => s.end(name));
  return new Promise((r) => server.listen(port, ip, () => r(server)));
}

interface Answer {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
  ms: number;
}

function get(
  host: string,
  urlPath: string,
  headers: Record<string, string> = {},
  ip = VIP,
  port = 9080,
): Promise<Answer> {
  const started = performance.now();
  return new Promise((resolve) => {
    const req = http.request({ host: ip, port, path: urlPath, headers: { host, ...headers }, agent: false }, (res) => {
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, body, headers: res.headers, ms: performance.now() - started }),
      );
    });
    req.setTimeout(8000, () => req.destroy(new Error("timeout")));
    req.on("error", (e) =>
      resolve({ status: 0, body: `error ${e.message}`, headers: {}, ms: performance.now() - started }),
    );
    req.end();
  });
}

function tcpRead(ip: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect({ host: ip, port });
    let out = "";
    s.setTimeout(3000, () => s.destroy());
    s.on("data", (d) => (out += d));
    s.on("close", () => resolve(out || "closed"));
    s.on("error", (e) => resolve(`error ${e.message}`));
  });
}

function count(xs: readonly string[]): Record<string, number> {
  const m: Record<string, number> = {};
  for (const x of xs) m[x] = (m[x] ?? 0) + 1;
  return m;
}

async function main(): Promise<void> {
  const inNs = (...args: string[]) => execFileSync(args[0] as string, args.slice(1));
  inNs("ip", "link", "set", "lo", "up");
  const all = [...IPS.reviews, IPS.ratings, IPS.details, IPS.other, ...IPS.db, IPS.httpbin, IPS.outside, "10.210.0.9"];
  for (const ip of all) inNs("ip", "addr", "add", `${ip}/32`, "dev", "lo");
  inNs("ip", "route", "add", "local", "10.210.100.0/24", "dev", "lo");

  const seen = new Map<string, Seen>();
  const servers: (http.Server | net.Server)[] = [];
  for (const [i, ip] of IPS.reviews.entries()) servers.push(await httpServer(`reviews-v${i + 1}`, ip, 9080, seen));
  servers.push(await httpServer("ratings", IPS.ratings, 9080, seen));
  servers.push(await httpServer("details", IPS.details, 9080, seen));
  servers.push(await httpServer("other", IPS.other, 9080, seen));
  servers.push(await httpServer("httpbin", IPS.httpbin, 80, seen));
  servers.push(await httpServer("outside", IPS.outside, 80, seen));
  for (const [i, ip] of IPS.db.entries()) servers.push(await tcpServer(`db-v${i + 1}`, ip, 5432));
  // The workload itself, behind its sidecar's ingress.
  servers.push(await httpServer("productpage-app", "127.0.0.1", 8080, seen));

  const files = Object.fromEntries(
    fs.readdirSync(path.join(HERE, "config")).map((f) => [f, fs.readFileSync(path.join(HERE, "config", f), "utf8")]),
  );
  const pilot = await startIstioPilot(files);
  const envoy = await startEnvoy({
    nodeId: "sidecar~10.210.0.9~productpage-v1.default~default.svc.cluster.local",
    xdsPort: pilot.xdsPort,
    uid: PROXY_UID,
    metadata: { NAMESPACE: "default", LABELS: { app: "productpage", version: "v1" } },
  });
  const result: Record<string, unknown> = {};
  try {
    await waitFor(
      "Envoy's outbound listeners",
      async () => ((await envoy.listeners()).includes("0.0.0.0_5432") ? true : undefined),
      20_000,
    );
    // Istio's capture: the proxy's own traffic and loopback pass; every other outbound TCP connection goes to 15001.
    const ipt = (...a: string[]) => inNs("iptables", "-t", "nat", ...a);
    ipt("-A", "OUTPUT", "-p", "tcp", "-m", "owner", "--uid-owner", String(PROXY_UID), "-j", "RETURN");
    // Inbound, as Istio captures it (here from the same namespace): to the workload's own address → 15006.
    ipt("-A", "OUTPUT", "-p", "tcp", "-d", "10.210.0.9", "-j", "REDIRECT", "--to-ports", "15006");
    ipt("-A", "OUTPUT", "-p", "tcp", "-d", "127.0.0.0/8", "-j", "RETURN");
    ipt("-A", "OUTPUT", "-p", "tcp", "-j", "REDIRECT", "--to-ports", "15001");

    const inbound = await get("productpage", "/inbound", {}, "10.210.0.9", 9080);
    result.ingress = { status: inbound.status, body: inbound.body };
    const names = async (n: number, host: string, p: string, headers: Record<string, string> = {}) =>
      count(
        await Promise.all(
          Array.from({ length: n }, () => get(host, p, headers).then((a) => a.body.split(" ")[0] ?? "")),
        ),
      );
    result.weighted = await names(200, "reviews", "/");
    result.byHeader = await names(20, "reviews", "/", { "end-user": "jason" });
    const delayed = await get("ratings", "/", { "end-user": "jason" });
    result.delay = { status: delayed.status, ms: Math.round(delayed.ms) };
    const aborted = await get("ratings", "/", { "x-abort": "1" });
    result.abort = { status: aborted.status, body: aborted.body };
    const slow = await get("details", "/", { "x-delay-ms": "3000" });
    result.timeout = { status: slow.status, ms: Math.round(slow.ms) };
    const before = seen.get("reviews-v1")?.count ?? 0;
    const flaky = await get("reviews", "/flaky", { "x-fail-first": "k1" });
    result.retry = { status: flaky.status, body: flaky.body, attempts: (seen.get("reviews-v1")?.count ?? 0) - before };
    const ratingsBefore = seen.get("ratings")?.count ?? 0;
    const mirrored = await get("reviews", "/mirror/me");
    await waitFor(
      "the mirrored copy",
      () => ((seen.get("ratings")?.count ?? 0) > ratingsBefore ? true : undefined),
      5000,
    );
    result.mirror = {
      answer: mirrored.body,
      copyHost: seen.get("ratings")?.last?.host,
      copyPath: seen.get("ratings")?.last?.path,
    };
    const moved = await get("reviews", "/old/page");
    result.redirect = { status: moved.status, location: moved.headers.location };
    const rewritten = await get("reviews", "/legacy/items");
    result.rewrite = { body: rewritten.body, sawRoute: seen.get("reviews-v2")?.last?.headers["x-route"] };
    result.responseHeaders = {
      internal: rewritten.headers["x-internal"] ?? null,
      backend: rewritten.headers["x-backend"],
    };
    result.tcp = count(await Promise.all(Array.from({ length: 100 }, () => tcpRead(IPS.dbVip, 5432))));
    // Egress under the Sidecar (REGISTRY_ONLY, own namespace and istio-system only).
    result.egressRestricted = {
      serviceEntry: (await get("httpbin.example.org", "/", {}, IPS.httpbin, 80)).body,
      otherNamespace: (await get("other.other.svc.cluster.local", "/")).status,
      unknown: (await get("outside", "/", {}, IPS.outside, 80)).status,
    };
    // Without the Sidecar: the whole mesh, and unknown destinations pass through.
    fs.rmSync(path.join(pilot.dir, "sidecar.yaml"));
    await waitFor(
      "the unrestricted config",
      async () => ((await get("other.other.svc.cluster.local", "/")).status === 200 ? true : undefined),
      20_000,
      200,
    );
    result.egressOpen = {
      otherNamespace: (await get("other.other.svc.cluster.local", "/")).body.split(" ")[0],
      unknown: (await get("outside", "/", {}, IPS.outside, 80)).body.split(" ")[0],
    };
    const dump = await envoy.configDump(true);
    const routes = dump.configs.flatMap((c) => c.dynamic_route_configs ?? []);
    result.routeConfigs = routes.map((r) => r.route_config.name).sort();
    result.clusters = dump.configs
      .flatMap((c) => c.dynamic_active_clusters ?? [])
      .map((c) => c.cluster.name)
      .filter((n) => n.includes("|"))
      .sort();
    result.rejections = rejections(await envoy.stats());
    const refused = await pilot.admin<unknown>("/debug/mesh");
    result.pilotMesh = refused;
  } catch (err) {
    result.error = err instanceof Error ? err.message : String(err);
    result.envoyLog = envoy.log().slice(-3000);
    const dump = await envoy.configDump(true).catch(() => undefined);
    result.debugRoutes = dump?.configs
      .flatMap((c) => c.dynamic_route_configs ?? [])
      .map((r) => [
        r.route_config.name,
        (r.route_config.virtual_hosts as { name: string }[] | undefined)?.map((v) => v.name),
      ]);
    result.debugOther = await get("other.other.svc.cluster.local", "/");
    result.pilotLog = pilot.output().slice(-3000);
  } finally {
    await envoy.stop();
    await pilot.stop();
    for (const s of servers) s.close();
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`istio sidecar scenario: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
