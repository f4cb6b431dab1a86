// Deliberately plain xDS clients for protocol tests: they send exactly what a
// test tells them to and record exactly what they receive.
import {
  type DescMessage,
  type MessageInitShape,
  type MessageShape,
  create,
  fromBinary,
  toBinary,
} from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import {
  type DeltaDiscoveryResponse,
  DeltaDiscoveryRequestSchema,
  DeltaDiscoveryResponseSchema,
  type DiscoveryResponse,
  DiscoveryRequestSchema,
  DiscoveryResponseSchema,
} from "@xdskit/xds-types/gen/envoy/service/discovery/v3/discovery_pb";

const ADS_PATH = "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources";
const DELTA_ADS_PATH = "/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources";

/** A node that passes every check. */
export const testNode = (id = "test-node", cluster = "test-cluster") => ({
  id,
  cluster,
  locality: { region: "local", zone: "a" },
});

/** One raw bidi xDS stream of some request and response schema. */
export class RawBidi<Req extends DescMessage, Res extends DescMessage> {
  readonly responses: MessageShape<Res>[] = [];
  /** Size in bytes of each response as it came off the wire. */
  readonly sizes: number[] = [];
  status: grpc.StatusObject | undefined;
  #waiters: (() => void)[] = [];
  #read = 0;
  readonly call: grpc.ClientDuplexStream<Uint8Array, Buffer>;

  constructor(
    client: grpc.Client,
    path: string,
    readonly requestSchema: Req,
    responseSchema: Res,
  ) {
    this.call = client.makeBidiStreamRequest(
      path,
      (b: Uint8Array) => Buffer.from(b),
      (b: Buffer) => b,
    );
    this.call.on("data", (b: Buffer) => {
      this.responses.push(fromBinary(responseSchema, b));
      this.sizes.push(b.length);
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

  async #until(ready: () => boolean, deadline: number, what: string, timeoutMs: number): Promise<void> {
    while (!ready()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${what} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Sends a request. */
  send(req: MessageInitShape<Req>): void {
    this.call.write(toBinary(this.requestSchema, create(this.requestSchema, req)));
  }

  /** Sends raw bytes (for malformed-input tests). */
  sendRaw(bytes: Uint8Array): void {
    this.call.write(bytes);
  }

  /** The next unread response; rejects after `timeoutMs` or when the stream ends first. */
  async next(timeoutMs = 3000): Promise<MessageShape<Res>> {
    await this.#until(
      () => {
        if (this.#read < this.responses.length) return true;
        if (this.status) throw new Error(`stream ended with ${this.status.code}: ${this.status.details}`);
        return false;
      },
      Date.now() + timeoutMs,
      "no response",
      timeoutMs,
    );
    const r = this.responses[this.#read++];
    if (!r) throw new Error("unreachable");
    return r;
  }

  /** Asserts that nothing arrives for `ms`. */
  async none(ms = 300): Promise<void> {
    const before = this.responses.length;
    await new Promise((r) => setTimeout(r, ms));
    if (this.responses.length > before) {
      throw new Error(`expected no response, got ${this.responses.length - before}`);
    }
  }

  /** Waits for the stream's final status. */
  async ended(timeoutMs = 3000): Promise<grpc.StatusObject> {
    await this.#until(() => this.status !== undefined, Date.now() + timeoutMs, "stream did not end", timeoutMs);
    if (!this.status) throw new Error("unreachable");
    return this.status;
  }

  close(): void {
    this.call.end();
  }
}

/** One raw State-of-the-World stream (ADS unless another method path is given). */
export class RawStream extends RawBidi<typeof DiscoveryRequestSchema, typeof DiscoveryResponseSchema> {
  constructor(client: grpc.Client, path = ADS_PATH) {
    super(client, path, DiscoveryRequestSchema, DiscoveryResponseSchema);
  }

  /** ACKs a response. */
  ack(r: DiscoveryResponse, names: readonly string[] = []): void {
    this.send({ typeUrl: r.typeUrl, versionInfo: r.versionInfo, responseNonce: r.nonce, resourceNames: [...names] });
  }
}

/** One raw incremental (Delta) stream (Delta ADS unless another method path is given). */
export class RawDeltaStream extends RawBidi<typeof DeltaDiscoveryRequestSchema, typeof DeltaDiscoveryResponseSchema> {
  constructor(client: grpc.Client, path = DELTA_ADS_PATH) {
    super(client, path, DeltaDiscoveryRequestSchema, DeltaDiscoveryResponseSchema);
  }

  /** ACKs a response, optionally changing the subscription in the same request. */
  ack(r: DeltaDiscoveryResponse, subscribe: readonly string[] = [], unsubscribe: readonly string[] = []): void {
    this.send({
      typeUrl: r.typeUrl,
      responseNonce: r.nonce,
      resourceNamesSubscribe: [...subscribe],
      resourceNamesUnsubscribe: [...unsubscribe],
    });
  }

  /** NACKs a response with an error message. */
  nack(r: DeltaDiscoveryResponse, message: string): void {
    this.send({ typeUrl: r.typeUrl, responseNonce: r.nonce, errorDetail: { code: 3, message } });
  }
}

/** A grpc-js client on a loopback port. */
export function rawClient(port: number): grpc.Client {
  return new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
}
