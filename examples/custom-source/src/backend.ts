// The example's backends: gRPC servers with one raw-bytes method that answers
// with the backend's name, so a caller sees where its call landed.
import * as grpc from "@grpc/grpc-js";

/** The method the demo backends serve (the same as minimal-pilot's). */
export const ECHO = "/xdskit.demo.Echo/Say";
const raw = (b: Buffer) => b;

/** Starts a backend named `name` on a free loopback port. */
export async function startBackend(name: string): Promise<{ port: number; stop: () => void }> {
  const server = new grpc.Server();
  server.addService(
    {
      Say: {
        path: ECHO,
        requestStream: false,
        responseStream: false,
        requestSerialize: raw,
        requestDeserialize: raw,
        responseSerialize: raw,
        responseDeserialize: raw,
      },
    },
    { Say: (_c: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb(null, Buffer.from(name)) },
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  return { port, stop: () => server.forceShutdown() };
}
