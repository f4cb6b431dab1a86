import http2 from "node:http2";
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

/**
 * A floor under the floor: the same ADS paths served straight on Node's
 * HTTP/2 (no grpc-js), each message framed by hand (a 5-byte gRPC prefix)
 * and requests read as raw DATA and dropped. What the bytes cost Node's
 * HTTP/2 alone — the most any gRPC layer of our own could save.
 */
export async function startBareHttp2Floor(): Promise<Awaited<ReturnType<typeof startFloorServer>>> {
  const streams = new Set<http2.ServerHttp2Stream>();
  const server = http2.createServer({ maxSessionMemory: 64 });
  server.on("stream", (stream, headers) => {
    const path = String(headers[":path"] ?? "");
    if (!path.startsWith("/envoy.service.discovery.v3.AggregatedDiscoveryService/")) {
      stream.respond({ ":status": 200, "content-type": "application/grpc", "grpc-status": "12" }, { endStream: true });
      return;
    }
    stream.respond({ ":status": 200, "content-type": "application/grpc" });
    stream.once("data", () => streams.add(stream));
    stream.on("data", () => {});
    const drop = () => streams.delete(stream);
    stream.on("close", drop);
    stream.on("error", drop);
  });
  const port = await new Promise<number>((res, rej) => {
    server.once("error", rej);
    server.listen(0, "127.0.0.1", () => res((server.address() as { port: number }).port));
  });
  return {
    port,
    subscribed: () => streams.size,
    broadcast(responses) {
      const framed = responses.map((r) => {
        const b = Buffer.allocUnsafe(5 + r.byteLength);
        b.writeUInt8(0, 0);
        b.writeUInt32BE(r.byteLength, 1);
        b.set(r, 5);
        return b;
      });
      for (const s of streams) for (const b of framed) s.write(b);
    },
    stop: () =>
      new Promise<void>((r) => {
        for (const s of streams) s.close(http2.constants.NGHTTP2_CANCEL);
        const t = setTimeout(r, 2000);
        server.close(() => {
          clearTimeout(t);
          r();
        });
      }),
  };
}
