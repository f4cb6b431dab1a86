// The admin pages of a control plane: health and readiness, metrics, and the
// debug pages operators read — JSON, GET and HEAD only.
import type http from "node:http";
import type { AdsServer } from "@xdskit/ads-server";
import type { DiscoveryController } from "@xdskit/config-generator";
import type { MemorySnapshotRegistry } from "@xdskit/snapshot";
import { ActivityRecorder } from "./activity.js";
import { authorized } from "./auth.js";
import { envoyConfigDump } from "./envoy-dump.js";
import { syncz, synczText } from "./syncz.js";
import { DASHBOARD_HTML } from "./ui.js";
import { type SourceInfo, configDump, meshPage, nodeGroupsPage } from "./pages.js";
import { authzPage, certsPage } from "./security-pages.js";

/** A metrics registry as prom-client's `Registry` has it. */
export interface MetricsSource {
  /** The metrics in Prometheus text format. */
  metrics(): Promise<string>;
  readonly contentType: string;
}

/** What the admin pages read. Everything but `ads` is optional: pages without their source answer 404. */
export interface AdminOptions {
  readonly ads: AdsServer;
  /** The discovery controller: /debug/mesh, /debug/node_groups, readiness, config dumps. */
  readonly controller?: DiscoveryController;
  /** The registry, when there is no controller (snapshot mode): config dumps. */
  readonly registry?: MemorySnapshotRegistry;
  /** /metrics, e.g. a prom-client `Registry`. */
  readonly metrics?: MetricsSource;
  /** Where the mesh comes from and its last refusal, for /debug/mesh. */
  readonly source?: () => SourceInfo;
  /** True once the host is serving; /healthz and /readyz answer 503 before. Default: always. */
  readonly ready?: () => boolean;
  /**
   * The workload certificates the pilot issued (identities, serials,
   * lifetimes — never keys), for /debug/certs: e.g. `@xdskit/mesh-ca`'s
   * `WorkloadCertificates.certificates`.
   */
  readonly certificates?: () => readonly {
    readonly spiffeId: string;
    readonly serial: string;
    readonly notAfter: string;
  }[];
  /** A bearer token every page but /healthz and /readyz requires (/readyz then says why it is not ready only with it). */
  readonly token?: string;
}

const PAGES = [
  "/ui",
  "/healthz",
  "/readyz",
  "/metrics",
  "/debug/connections",
  "/debug/syncz",
  "/debug/push_status",
  "/debug/activity",
  "/debug/config_dump?node=ID[&format=envoy]",
  "/debug/mesh",
  "/debug/node_groups",
  "/debug/certs",
  "/debug/authz?node=ID",
];

/** The admin request handler; `close()` stops what it records. */
export type AdminHandler = http.RequestListener & {
  /** Stops recording the ADS server's events. */
  close(): void;
};

function wantsText(req: http.IncomingMessage, url: URL): boolean {
  if (url.searchParams.get("format") === "text") return true;
  const accept = req.headers.accept ?? "";
  return accept.includes("text/plain") && !accept.includes("application/json");
}

function json(res: http.ServerResponse, code: number, body: unknown, headers: http.OutgoingHttpHeaders = {}): void {
  res.writeHead(code, { "content-type": "application/json", ...headers });
  res.end(`${JSON.stringify(body, null, 2)}\n`);
}

function text(res: http.ServerResponse, code: number, body: string): void {
  res.writeHead(code, { "content-type": "text/plain" });
  res.end(body);
}

/** The admin request handler, to mount on a host's HTTP server or run with `startAdminServer`. */
export function createAdminHandler(options: AdminOptions): AdminHandler {
  const registry = options.controller?.registry ?? options.registry;
  const activity = new ActivityRecorder(options.ads);
  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://admin");
    // Every page only reads: other methods are refused, not ignored.
    if (req.method !== "GET" && req.method !== "HEAD") {
      return json(
        res,
        405,
        { error: `${req.method} is not allowed; the admin pages answer GET and HEAD` },
        { allow: "GET, HEAD" },
      );
    }
    const authed = !options.token || authorized(req, options.token, url);
    // Probes (a kubelet's) carry no token: /healthz, and /readyz without its reason.
    const probe = url.pathname === "/healthz" || url.pathname === "/readyz";
    if (!probe && !authed) {
      return json(
        res,
        401,
        { error: "this page needs Authorization: Bearer <token>" },
        { "www-authenticate": 'Bearer realm="xdskit-admin"' },
      );
    }
    const ready = options.ready?.() ?? true;
    try {
      switch (url.pathname) {
        case "/healthz":
          return ready ? text(res, 200, "ok\n") : text(res, 503, "starting\n");
        case "/readyz": {
          // Ready: serving, and holding config that passed validation at least once.
          const sources = options.controller?.ready() ?? true;
          if (ready && sources) return text(res, 200, "ready\n");
          if (!ready) return text(res, 503, "starting\n");
          // The source's own last error says why (etcd not answering, a broken file), to those with the token.
          const why = authed ? options.source?.().lastError : undefined;
          return text(
            res,
            503,
            `no config read yet: the sources have not given one that passed validation${why ? ` (source: ${why})` : ""}\n`,
          );
        }
        case "/metrics":
          if (!options.metrics) return json(res, 404, { error: "no metrics registry was given" });
          options.metrics.metrics().then(
            (body) => {
              res.writeHead(200, { "content-type": options.metrics?.contentType ?? "text/plain" });
              res.end(body);
            },
            (err: unknown) => json(res, 500, { error: String(err) }),
          );
          return;
        case "/ui":
          res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
          res.end(DASHBOARD_HTML);
          return;
        case "/debug/connections":
          return json(res, 200, {
            count: options.ads.connections.count(),
            sendBudget: options.ads.sendBudget(),
            connections: options.ads.connections.list(),
          });
        case "/debug/syncz": {
          const rows = syncz(options.ads);
          return wantsText(req, url) ? text(res, 200, synczText(rows)) : json(res, 200, rows);
        }
        case "/debug/push_status":
          if (!options.controller) return json(res, 404, { error: "no discovery controller was given" });
          return json(res, 200, { pushes: [...options.controller.recentPushes()].reverse() });
        case "/debug/activity":
          return json(res, 200, {
            pushes: options.controller?.recentPushes() ?? [],
            convergence: activity.convergence,
            nacks: activity.nacks,
          });
        case "/debug/config_dump": {
          if (!registry) return json(res, 404, { error: "no registry was given" });
          const node = url.searchParams.get("node");
          if (!node) return json(res, 400, { error: "missing ?node=ID (a connected client's node id)" });
          if (url.searchParams.get("format") === "envoy") {
            const conn = options.ads.connections.byNodeId(node)[0];
            if (!conn) return json(res, 404, { error: `no connected client with node id "${node}"` });
            return json(res, 200, envoyConfigDump(registry.getSnapshot(conn.nodeGroup)));
          }
          const dump = configDump(options.ads, registry, node);
          return dump ? json(res, 200, dump) : json(res, 404, { error: `no connected client with node id "${node}"` });
        }
        case "/debug/mesh":
          if (!options.controller) return json(res, 404, { error: "no discovery controller was given" });
          return json(res, 200, meshPage(options.controller, options.source?.()));
        case "/debug/node_groups":
          if (!options.controller) return json(res, 404, { error: "no discovery controller was given" });
          return json(res, 200, nodeGroupsPage(options.controller));
        case "/debug/certs":
          if (!options.certificates)
            return json(res, 404, { error: "this control plane issues no workload certificates" });
          return json(res, 200, certsPage(options.ads, options.certificates()));
        case "/debug/authz": {
          if (!options.controller) return json(res, 404, { error: "no discovery controller was given" });
          const node = url.searchParams.get("node");
          if (!node) return json(res, 400, { error: "missing ?node=ID (a connected client's node id)" });
          const page = authzPage(options.ads, options.controller, node);
          return page ? json(res, 200, page) : json(res, 404, { error: `no connected client with node id "${node}"` });
        }
        default:
          return json(res, 404, { error: `no page ${url.pathname}`, pages: PAGES });
      }
    } catch (err) {
      json(res, 500, { error: String(err) });
    }
  };
  return Object.assign(handler, { close: () => activity.close() });
}
