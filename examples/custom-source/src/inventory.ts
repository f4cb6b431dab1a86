// A stand-in for the system that knows your services (a CMDB, a scheduler, a
// cloud API): an HTTP endpoint listing them, changed with a POST.
import http from "node:http";
import type { Service } from "@xdskit/config-generator";

/** A running demo inventory. */
export interface Inventory {
  readonly url: string;
  set(services: readonly Service[]): void;
  close(): Promise<void>;
}

/** Serves `GET /services` and takes `POST /services` (a JSON list) on the loopback. */
export async function startInventory(initial: readonly Service[], port = 0): Promise<Inventory> {
  let services = [...initial];
  const server = http.createServer((req, res) => {
    if (req.url !== "/services") {
      res.writeHead(404).end();
      return;
    }
    if (req.method === "GET") {
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(services));
      return;
    }
    if (req.method === "POST") {
      let body = "";
      req.on("data", (d) => {
        body += d;
        if (body.length > 1_000_000) req.destroy();
      });
      req.on("end", () => {
        try {
          services = JSON.parse(body) as Service[];
          res.writeHead(204).end();
        } catch (err) {
          res.writeHead(400).end(`not JSON: ${(err as Error).message}`);
        }
      });
      return;
    }
    res.writeHead(405, { allow: "GET, POST" }).end();
  });
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    set: (next) => {
      services = [...next];
    },
    close: () =>
      new Promise((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
