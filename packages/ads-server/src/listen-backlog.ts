// The listen queue of the ADS port. Node listens with a backlog of 511, and
// grpc-js offers no way to ask for more; when a fleet connects at once (pods
// coming up, every client of a restarted replica) and the event loop is busy
// writing full configs for a few hundred milliseconds, the kernel's queue
// overflows and clients see their connections reset. Go servers (istiod,
// go-control-plane) listen with the system's somaxconn; this does the same
// by giving each HTTP/2 server grpc-js creates a larger backlog (the kernel
// caps it at net.core.somaxconn).
import type { Server } from "@grpc/grpc-js";

/** The backlog asked for unless told otherwise (Linux caps it at net.core.somaxconn, 4096 by default). */
export const DEFAULT_LISTEN_BACKLOG = 4096;

type Listen = (address: unknown, ...rest: unknown[]) => unknown;
interface Http2Like {
  listen: Listen;
}
interface WithFactory {
  createHttp2Server?: (credentials: unknown) => Http2Like;
}

/**
 * Makes `server` listen with `backlog` on every address it binds. Reaches
 * into grpc-js's HTTP/2 server factory; when that is not there (another
 * grpc-js), the server keeps Node's default and `false` is returned.
 */
export function useListenBacklog(server: Server, backlog: number): boolean {
  const host = server as unknown as WithFactory;
  const create = host.createHttp2Server;
  if (typeof create !== "function") return false;
  host.createHttp2Server = (credentials) => {
    const http2 = create.call(server, credentials);
    const listen = http2.listen.bind(http2) as Listen;
    http2.listen = (address, ...rest) =>
      // grpc-js passes { host, port } or { path }: both are listen options, which take a backlog.
      typeof address === "object" && address !== null
        ? listen({ ...(address as object), backlog }, ...rest)
        : listen(address, ...rest);
    return http2;
  };
  return true;
}
