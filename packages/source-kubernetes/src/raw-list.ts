// Lists as the API server sends them. The client's typed list deserializes
// every object into the model of its kind, and a kind it has no model for
// (a custom resource) comes back without its spec; custom resources are
// listed here as plain JSON instead, with the kubeconfig's credentials.
import http from "node:http";
import https from "node:https";
import type { KubeConfig, KubernetesObject } from "@kubernetes/client-node";

/** One page of a list, as JSON. */
export interface RawListPage {
  readonly items: KubernetesObject[];
  readonly metadata?: { readonly resourceVersion?: string; readonly continue?: string };
}

/** Lists pages of objects at an API path (`/apis/<group>/<version>/<plural>`) as plain JSON. */
export type RawLister = (path: string, query: Record<string, string | number | undefined>) => Promise<RawListPage>;

/** A lister for the kubeconfig's current cluster and user. */
export function rawLister(kc: KubeConfig): RawLister {
  return async (path, query) => {
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error("no current cluster in the kubeconfig");
    const url = new URL(cluster.server + path);
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== "") url.searchParams.set(k, String(v));
    const opts: https.RequestOptions = { headers: { accept: "application/json" } };
    await kc.applyToHTTPSOptions(opts);
    const client = url.protocol === "https:" ? https : http;
    return new Promise<RawListPage>((resolve, reject) => {
      const req = client.request(url, { ...opts, method: "GET", timeout: 30_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (d: Buffer) => chunks.push(d));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          if ((res.statusCode ?? 0) >= 300) {
            reject(
              Object.assign(new Error(`GET ${path}: HTTP ${res.statusCode}: ${text.slice(0, 300)}`), {
                code: res.statusCode ?? 0,
              }),
            );
            return;
          }
          try {
            resolve(JSON.parse(text) as RawListPage);
          } catch (e) {
            reject(e);
          }
        });
        res.on("error", reject);
      });
      req.on("timeout", () => req.destroy(new Error(`GET ${path}: timed out`)));
      req.on("error", reject);
      req.end();
    });
  };
}
