// Real backends for traffic through Envoy: gRPC echo servers and HTTP/1.1
// servers that answer with their own name (and wait first when asked to).
import http from "node:http";
import * as grpc from "@grpc/grpc-js";

/** The demo's echo method (the same as minimal-pilot's backends). */
export const ECHO_PATH = "/xdskit.demo.Echo/Say";
const raw = (b: Buffer) => b;

/** A running backend. */
export interface Backend {
  readonly name: string;
  readonly port: number;
  /** gRPC backends: while true, every call fails with UNAVAILABLE. */
  failing?: boolean;
  /** gRPC backends: calls answered so far (failed ones too). */
  readonly calls?: number;
  stop(): Promise<void>;
}

/** A unary method with raw bytes both ways (test backends answer with their name). */
export function rawMethod(path: string): grpc.MethodDefinition<Buffer, Buffer> {
  return {
    path,
    requestStream: false,
    responseStream: false,
    requestSerialize: raw,
    requestDeserialize: raw,
    responseSerialize: raw,
    responseDeserialize: raw,
  };
}

/** The echo method of the grpc-go and grpc-java interop drivers. */
export const DRIVER_ECHO_PATH = "/echo.Echo/Say";

/**
 * A gRPC echo server answering with its name, on the demo's method and the
 * interop drivers' one. Metadata `x-delay-ms` delays the answer;
 * `x-fail-attempts: N` fails the first N attempts of a call with UNAVAILABLE
 * (a retry carries `grpc-previous-rpc-attempts`, gRFC A6); setting `failing`
 * fails every call.
 */
export async function grpcBackend(name: string, host = "127.0.0.1", port = 0): Promise<Backend> {
  const server = new grpc.Server();
  const state = { failing: false, calls: 0 };
  const say = (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
    state.calls++;
    const delay = Number(call.metadata.get("x-delay-ms")[0] ?? 0);
    const failFor = Number(call.metadata.get("x-fail-attempts")[0] ?? 0);
    const attempt = Number(call.metadata.get("grpc-previous-rpc-attempts")[0] ?? 0);
    if (state.failing || attempt < failFor) {
      cb({ code: grpc.status.UNAVAILABLE, details: `${name} fails attempt ${attempt}` });
      return;
    }
    setTimeout(() => cb(null, Buffer.from(name)), Math.min(delay, 10_000));
  };
  server.addService({ Say: rawMethod(ECHO_PATH) }, { Say: say });
  server.addService({ Say: rawMethod(DRIVER_ECHO_PATH) }, { Say: say });
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (e, p) =>
      e ? reject(e) : resolve(p),
    ),
  );
  return {
    name,
    port: bound,
    get failing() {
      return state.failing;
    },
    set failing(v: boolean) {
      state.failing = v;
    },
    get calls() {
      return state.calls;
    },
    stop: () => new Promise((r) => server.tryShutdown(() => r())),
  };
}

/** An HTTP/1.1 server answering every request with its name; header `x-delay-ms` delays the answer. */
export async function httpBackend(name: string): Promise<Backend> {
  const sockets = new Set<import("node:net").Socket>();
  const server = http.createServer((req, res) => {
    const delay = Math.min(Number(req.headers["x-delay-ms"] ?? 0), 10_000);
    setTimeout(() => {
      res.writeHead(200, { "content-type": "text/plain", "x-backend": name });
      res.end(name);
    }, delay);
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return {
    name,
    port: (server.address() as { port: number }).port,
    stop: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** One unary echo call; resolves with the backend's name or `error:<code>`. */
export function callEcho(client: grpc.Client, timeoutMs = 3000, metadata = new grpc.Metadata()): Promise<string> {
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      ECHO_PATH,
      raw,
      raw,
      Buffer.from("hello"),
      metadata,
      { deadline: Date.now() + timeoutMs },
      (err, value) => resolve(err ? `error:${err.code}` : (value?.toString() ?? "error:empty")),
    );
  });
}
