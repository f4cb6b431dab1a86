// A loopback TCP proxy a test can cut and mend: the way to lose a connection
// to a server that keeps running (and keeps taking writes from others). With
// several targets it is a tiny Kubernetes Service: each new connection goes
// to the first target that accepts it.
import net from "node:net";

/** A running proxy. */
export interface TcpProxy {
  readonly port: number;
  /** Drops every connection and refuses new ones. */
  cut(): Promise<void>;
  /** Accepts connections again, on the same port. */
  mend(): Promise<void>;
  close(): Promise<void>;
}

// Connects to the first of the ports that accepts.
function connectFirst(ports: readonly number[], done: (s: net.Socket | undefined) => void, i = 0): void {
  if (i >= ports.length) {
    done(undefined);
    return;
  }
  const s = net.connect(ports[i] as number, "127.0.0.1");
  s.once("connect", () => done(s));
  s.once("error", () => {
    s.destroy();
    connectFirst(ports, done, i + 1);
  });
}

/** Forwards 127.0.0.1:<port> to 127.0.0.1:<target> (the first of several that accepts). */
export async function startTcpProxy(target: number | readonly number[], port = 0): Promise<TcpProxy> {
  const targets = typeof target === "number" ? [target] : [...target];
  const sockets = new Set<net.Socket>();
  let server: net.Server | undefined;
  let bound = port;
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      const s = net.createServer((inbound) => {
        inbound.pause();
        sockets.add(inbound);
        inbound.on("close", () => sockets.delete(inbound));
        inbound.on("error", () => inbound.destroy());
        connectFirst(targets, (outbound) => {
          if (!outbound || inbound.destroyed) {
            outbound?.destroy();
            inbound.destroy();
            return;
          }
          sockets.add(outbound);
          outbound.on("close", () => {
            sockets.delete(outbound);
            inbound.destroy();
          });
          outbound.on("error", () => outbound.destroy());
          inbound.on("close", () => outbound.destroy());
          inbound.pipe(outbound);
          outbound.pipe(inbound);
          inbound.resume();
        });
      });
      s.once("error", reject);
      s.listen(bound, "127.0.0.1", () => {
        bound = (s.address() as net.AddressInfo).port;
        server = s;
        resolve();
      });
    });
  const cut = async () => {
    const s = server;
    server = undefined;
    for (const x of sockets) x.destroy();
    if (s) await new Promise<void>((r) => s.close(() => r()));
  };
  await listen();
  return {
    get port() {
      return bound;
    },
    cut,
    mend: async () => {
      if (!server) await listen();
    },
    close: cut,
  };
}
