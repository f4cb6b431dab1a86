// A tiny echo service for end-to-end tests: one unary method with raw bytes,
// answering with the backend's name so a test can see where a call landed.
import * as grpc from "@grpc/grpc-js";

/** The echo method path. */
export const ECHO_PATH = "/xdskit.test.Echo/Say";

const echoService: grpc.ServiceDefinition = {
  Say: {
    path: ECHO_PATH,
    requestStream: false,
    responseStream: false,
    requestSerialize: (b: Buffer) => b,
    requestDeserialize: (b: Buffer) => b,
    responseSerialize: (b: Buffer) => b,
    responseDeserialize: (b: Buffer) => b,
  },
};

/** Starts an echo backend on 127.0.0.1; returns its port and a stop function. */
export async function startEcho(name: string): Promise<{ port: number; stop: () => Promise<void> }> {
  const server = new grpc.Server();
  server.addService(echoService, {
    Say: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb(null, Buffer.from(name)),
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  return { port, stop: () => new Promise((r) => server.tryShutdown(() => r())) };
}

/** Calls the echo method on a channel target (e.g. `xds:///echo`); resolves with the backend's name. */
export function callEcho(client: grpc.Client, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(
      ECHO_PATH,
      (b: Buffer) => b,
      (b: Buffer) => b,
      Buffer.from("hi"),
      new grpc.Metadata(),
      { deadline: Date.now() + timeoutMs },
      (err, value) => (err || !value ? reject(err ?? new Error("empty response")) : resolve(value.toString())),
    );
  });
}

/** A grpc-js-xds bootstrap pointing at a loopback xDS server. */
export function bootstrap(xdsPort: number, nodeId: string): string {
  return JSON.stringify({
    xds_servers: [
      { server_uri: `127.0.0.1:${xdsPort}`, channel_creds: [{ type: "insecure" }], server_features: ["xds_v3"] },
    ],
    node: { id: nodeId, cluster: "xdskit-test", locality: { region: "local", zone: "a" } },
  });
}
