import * as grpc from "@grpc/grpc-js";

/**
 * The floor of the fan-out benchmark: a bare grpc-js ADS server with no state
 * machine that writes the same pre-assembled responses to every stream. What
 * xdskit costs is whatever it takes beyond this.
 */
export async function startFloorServer(): Promise<{
  port: number;
  /** Streams that have sent their first request. */
  subscribed(): number;
  /** Writes every response to every subscribed stream. */
  broadcast(responses: readonly Uint8Array[]): void;
  stop(): Promise<void>;
}> {
  const streams = new Set<grpc.ServerDuplexStream<Buffer, Buffer>>();
  const server = new grpc.Server();
  const raw = (b: Buffer) => b;
  const method = (name: string) => ({
    path: `/envoy.service.discovery.v3.AggregatedDiscoveryService/${name}`,
    requestStream: true,
    responseStream: true,
    requestSerialize: raw,
    requestDeserialize: raw,
    responseSerialize: raw,
    responseDeserialize: raw,
  });
  const handle = (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
    call.once("data", () => streams.add(call));
    call.on("data", () => {});
    call.on("error", () => streams.delete(call));
    call.on("end", () => {
      streams.delete(call);
      call.end();
    });
    call.on("cancelled", () => streams.delete(call));
  };
  // SotW and Delta: the floor does not look at requests, so one handler serves both.
  server.addService(
    {
      StreamAggregatedResources: method("StreamAggregatedResources"),
      DeltaAggregatedResources: method("DeltaAggregatedResources"),
    },
    { StreamAggregatedResources: handle, DeltaAggregatedResources: handle },
  );
  const port = await new Promise<number>((res, rej) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))),
  );
  return {
    port,
    subscribed: () => streams.size,
    broadcast(responses) {
      const bufs = responses.map((r) => Buffer.from(r.buffer, r.byteOffset, r.byteLength));
      for (const s of streams) for (const b of bufs) s.write(b);
    },
    stop: () =>
      new Promise<void>((r) => {
        const t = setTimeout(() => {
          server.forceShutdown();
          r();
        }, 2000);
        server.tryShutdown(() => {
          clearTimeout(t);
          r();
        });
      }),
  };
}
