// The demo's echo protocol: one unary method carrying raw bytes; a backend
// answers with its own name, so a caller sees which backend served it.
import * as grpc from "@grpc/grpc-js";

const PATH = "/xdskit.demo.Echo/Say";
const raw = (b: Buffer) => b;

/** Starts an echo backend on `host:0`; returns its port and a stop function. */
export async function startEchoBackend(
  name: string,
  host = "127.0.0.1",
): Promise<{ port: number; stop: () => Promise<void> }> {
  const server = new grpc.Server();
  server.addService(
    {
      Say: {
        path: PATH,
        requestStream: false,
        responseStream: false,
        requestSerialize: raw,
        requestDeserialize: raw,
        responseSerialize: raw,
        responseDeserialize: raw,
      },
    },
    {
      Say: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb(null, Buffer.from(name)),
    },
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:0`, grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  return { port, stop: () => new Promise((r) => server.tryShutdown(() => r())) };
}

/** Calls the echo method through a channel (e.g. one on `xds:///echo`); resolves with the backend's name. */
export function callEcho(client: grpc.Client, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(
      PATH,
      raw,
      raw,
      Buffer.from("hello"),
      new grpc.Metadata(),
      { deadline: Date.now() + timeoutMs },
      (err, value) => (err || !value ? reject(err ?? new Error("empty response")) : resolve(value.toString())),
    );
  });
}
