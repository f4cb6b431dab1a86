import http from "node:http";
import { XdsError } from "@xdskit/xds-types";
import { assertSafeBind } from "./auth.js";
import { type AdminOptions, createAdminHandler } from "./handler.js";

/** Options of {@link startAdminServer}. */
export interface AdminServerOptions extends AdminOptions {
  /** Address to bind. Default 127.0.0.1; anything but a loopback address needs `token`. */
  readonly host?: string;
  /** Port. Default 15014; 0 picks a free one. */
  readonly port?: number;
}

/** A running admin server. */
export interface AdminServer {
  readonly port: number;
  readonly server: http.Server;
  /** Stops serving and closes open connections. */
  close(): Promise<void>;
}

/**
 * Serves the admin pages on their own HTTP server. Refuses (throws) to bind a
 * non-loopback address without a token.
 */
export async function startAdminServer(options: AdminServerOptions): Promise<AdminServer> {
  const host = options.host ?? "127.0.0.1";
  assertSafeBind(host, options.token);
  const handler = createAdminHandler(options);
  const server = http.createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err) =>
      reject(
        new XdsError(
          "unavailable",
          `cannot listen on ${host}:${options.port ?? 15014} for the admin pages: ${err.message}`,
        ),
      ),
    );
    server.listen(options.port ?? 15014, host, resolve);
  });
  return {
    port: (server.address() as { port: number }).port,
    server,
    close: () =>
      new Promise<void>((r) => {
        handler.close();
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
