// A deliberately plain ADS client for protocol tests: it sends exactly what a
// test tells it to and records exactly what it receives.
import { create, fromBinary, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import {
  type DiscoveryResponse,
  DiscoveryRequestSchema,
  DiscoveryResponseSchema,
} from "@xdskit/xds-types/gen/envoy/service/discovery/v3/discovery_pb";

const ADS_PATH = "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources";

/** A node that passes every check. */
export const testNode = (id = "test-node", cluster = "test-cluster") => ({
  id,
  cluster,
  locality: { region: "local", zone: "a" },
});

/** One raw SotW stream. */
export class RawStream {
  readonly responses: DiscoveryResponse[] = [];
  status: grpc.StatusObject | undefined;
  #waiters: (() => void)[] = [];
  #read = 0;
  readonly call: grpc.ClientDuplexStream<Uint8Array, Buffer>;

  constructor(client: grpc.Client, path = ADS_PATH) {
    this.call = client.makeBidiStreamRequest(
      path,
      (b: Uint8Array) => Buffer.from(b),
      (b: Buffer) => b,
    );
    this.call.on("data", (b: Buffer) => {
      this.responses.push(fromBinary(DiscoveryResponseSchema, b));
      this.#wake();
    });
    this.call.on("status", (s) => {
      this.status = s;
      this.#wake();
    });
    this.call.on("error", () => {});
  }

  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }

  /** Sends a DiscoveryRequest. */
  send(req: MessageInitShape<typeof DiscoveryRequestSchema>): void {
    this.call.write(toBinary(DiscoveryRequestSchema, create(DiscoveryRequestSchema, req)));
  }

  /** Sends raw bytes (for malformed-input tests). */
  sendRaw(bytes: Uint8Array): void {
    this.call.write(bytes);
  }

  /** The next unread response; rejects after `timeoutMs`. */
  async next(timeoutMs = 3000): Promise<DiscoveryResponse> {
    const deadline = Date.now() + timeoutMs;
    while (this.#read >= this.responses.length) {
      if (this.status) throw new Error(`stream ended with ${this.status.code}: ${this.status.details}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no response within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    const r = this.responses[this.#read++];
    if (!r) throw new Error("unreachable");
    return r;
  }

  /** Asserts that nothing arrives for `ms`. */
  async none(ms = 300): Promise<void> {
    const before = this.responses.length;
    await new Promise((r) => setTimeout(r, ms));
    if (this.responses.length > before) {
      const extra = this.responses.slice(before).map((r) => `${r.typeUrl}@${r.versionInfo}`);
      throw new Error(`expected no response, got ${extra.join(", ")}`);
    }
  }

  /** Waits for the stream's final status. */
  async ended(timeoutMs = 3000): Promise<grpc.StatusObject> {
    const deadline = Date.now() + timeoutMs;
    while (!this.status) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`stream did not end within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.status;
  }

  /** ACKs a response. */
  ack(r: DiscoveryResponse, names: readonly string[] = []): void {
    this.send({ typeUrl: r.typeUrl, versionInfo: r.versionInfo, responseNonce: r.nonce, resourceNames: [...names] });
  }

  close(): void {
    this.call.end();
  }
}

/** A grpc-js client on a loopback port. */
export function rawClient(port: number): grpc.Client {
  return new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
}
