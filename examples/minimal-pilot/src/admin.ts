import type http from "node:http";
import type { AdsServer } from "@xdskit/ads-server";
import type { DiscoveryController, FileSource } from "@xdskit/config-generator";
import { messageToJson } from "@xdskit/xds-types/registry";
import type { Registry } from "prom-client";

/** What the admin pages read. */
export interface AdminDeps {
  ads: AdsServer;
  controller: DiscoveryController;
  metrics: Registry;
  file: FileSource | undefined;
  ready: () => boolean;
}

function json(res: http.ServerResponse, code: number, body: unknown): void {
  res.writeHead(code, { "content-type": "application/json" });
  res.end(`${JSON.stringify(body, null, 2)}\n`);
}

/** The admin HTTP handler: /healthz, /metrics, /debug/connections, /debug/config_dump?node=ID, /debug/mesh. */
export function adminHandler(deps: AdminDeps): http.RequestListener {
  return (req, res) => {
    const url = new URL(req.url ?? "/", "http://admin");
    // Every page only reads: other methods are refused, not ignored.
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD", "content-type": "application/json" });
      res.end(`${JSON.stringify({ error: `${req.method} is not allowed; the admin pages answer GET and HEAD` })}\n`);
      return;
    }
    try {
      switch (url.pathname) {
        case "/healthz":
          if (deps.ready()) {
            res.writeHead(200, { "content-type": "text/plain" });
            res.end("ok\n");
          } else {
            res.writeHead(503, { "content-type": "text/plain" });
            res.end("starting\n");
          }
          return;
        case "/metrics":
          deps.metrics.metrics().then(
            (text) => {
              res.writeHead(200, { "content-type": deps.metrics.contentType });
              res.end(text);
            },
            (err: unknown) => json(res, 500, { error: String(err) }),
          );
          return;
        case "/debug/connections":
          json(res, 200, { count: deps.ads.connections.count(), connections: deps.ads.connections.list() });
          return;
        case "/debug/config_dump": {
          const node = url.searchParams.get("node");
          if (!node) return json(res, 400, { error: "missing ?node=ID (a connected client's node id)" });
          const conns = deps.ads.connections.byNodeId(node);
          if (conns.length === 0) return json(res, 404, { error: `no connected client with node id "${node}"` });
          const group = conns[0]?.nodeGroup ?? "";
          const snap = deps.controller.registry.getSnapshot(group);
          const types: Record<string, unknown> = {};
          for (const [typeUrl, ts] of snap?.types ?? []) {
            types[typeUrl] = {
              version: ts.version,
              resources: [...ts.resources.values()].map((r) => ({
                name: r.name,
                version: r.version,
                resource: messageToJson(
                  deps.controller.registry.resourceType(typeUrl)?.schema ?? (undefined as never),
                  r.message,
                ),
              })),
            };
          }
          return json(res, 200, { node, nodeGroup: group, connections: conns, config: types });
        }
        case "/debug/mesh": {
          const push = deps.controller.pushContext();
          return json(res, 200, {
            file: deps.file?.path ?? null,
            lastError: (deps.file?.lastError ?? deps.controller.lastRejection()?.error)?.message ?? null,
            services: [...push.services.values()],
            routes: [...push.routes.values()].flat(),
            nodeGroups: [...deps.controller.nodeGroups().keys()],
          });
        }
        case "/debug/node_groups": {
          const live = deps.controller.registry.liveNodeGroups();
          return json(res, 200, {
            stats: deps.controller.registry.stats(),
            nodeGroups: [...deps.controller.nodeGroups()].map(([name, proxy]) => ({
              name,
              kind: proxy.kind,
              streams: live.get(name) ?? 0,
              hasSnapshot: deps.controller.registry.getSnapshot(name) !== undefined,
            })),
          });
        }
        default:
          json(res, 404, {
            error: `no page ${url.pathname}`,
            pages: [
              "/healthz",
              "/metrics",
              "/debug/connections",
              "/debug/config_dump?node=ID",
              "/debug/mesh",
              "/debug/node_groups",
            ],
          });
      }
    } catch (err) {
      json(res, 500, { error: String(err) });
    }
  };
}
