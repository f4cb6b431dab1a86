// The ADS client's public shape: its options, events and methods. The
// stream machinery behind them is in client.ts.
import type { MessageInitShape } from "@bufbuild/protobuf";
import type * as grpc from "@grpc/grpc-js";
import type { Logger } from "@xdskit/xds-types";
import type { NodeSchema } from "@xdskit/xds-types/gen/envoy/config/core/v3/base_pb";
import type { EventEmitter } from "eventemitter3";
import type { BackoffOptions } from "./backoff.js";
import type { ConnectionSecurity } from "./credentials.js";
import type { ResourceStore, StoredResource } from "./store.js";

/** A response the client received, decoded, before it is accepted. */
export interface ReceivedUpdate {
  readonly typeUrl: string;
  /** SotW `version_info` / Delta `system_version_info`. */
  readonly version: string;
  readonly nonce: string;
  /** Resources with a body (heartbeats are not listed). */
  readonly resources: readonly StoredResource[];
  /** Delta `removed_resources`; SotW full-state types: subscribed names left out of the response. */
  readonly removed: readonly string[];
}

/** Typed events of an {@link AdsClient}. */
export interface AdsClientEvents {
  /** A stream opened (first one, or after a reconnect), to `target`. */
  connected: (event: { attempt: number; target: string }) => void;
  /** The stream ended; `retryInMs` is set when the client will reconnect. */
  disconnected: (event: { code: number; details: string; retryInMs: number | undefined; target: string }) => void;
  /** A response was accepted into the store (and ACKed when `autoAck`). */
  update: (event: ReceivedUpdate & { readonly upserted: readonly string[] }) => void;
  /** A response was rejected (by the `validate` hook or because it did not decode) and NACKed. */
  nack: (event: { typeUrl: string; version: string; nonce: string; message: string }) => void;
}

/** Options of {@link createAdsClient}. */
export interface AdsClientOptions {
  /**
   * The control plane, `host:port`; or several replicas, tried in turn: when
   * a stream fails the client moves to the next (after a short jittered
   * pause; backoff once every one has failed) and resubscribes saying what it
   * holds, so a replica serving the same config sends nothing new (Delta).
   */
  target: string | readonly string[];
  /** The node this client presents (id, cluster, locality, metadata…). */
  node: MessageInitShape<typeof NodeSchema>;
  /** State of the World (default) or incremental (Delta). */
  protocol?: "sotw" | "delta";
  /** Plaintext (default), TLS or mTLS. */
  security?: ConnectionSecurity;
  /**
   * Inspects each response before it is accepted; return (or throw) an error
   * message to NACK it. The store keeps the last accepted config.
   */
  validate?: (update: ReceivedUpdate) => string | undefined;
  /** Reconnect with backoff when the stream ends. Default true. */
  reconnect?: boolean;
  /** Reconnect timing. */
  backoff?: BackoffOptions;
  /** Extra grpc-js channel options. */
  channelOptions?: grpc.ChannelOptions;
  /**
   * Metadata sent when each stream opens (as Envoy's `initial_metadata`),
   * e.g. `{ authorization: "Bearer <service-account token>" }`.
   */
  callMetadata?: Readonly<Record<string, string>>;
  /** Diagnostics. Default: silent. */
  logger?: Logger;
}

/** An ADS client: subscriptions, a decoded store, automatic ACK/NACK and reconnects. */
export interface AdsClient extends Pick<EventEmitter<AdsClientEvents>, "on" | "off" | "once"> {
  /** The decoded configuration received so far. */
  readonly store: ResourceStore;
  /** The server address the current (or next) stream goes to. */
  readonly target: string;
  /**
   * Subscribes to resources of a type; no names (or `*`) is wildcard. Adds to
   * what is already subscribed.
   */
  subscribe(typeUrl: string, names?: readonly string[]): void;
  /** Drops names from a subscription (`*` drops the wildcard). */
  unsubscribe(typeUrl: string, names: readonly string[]): void;
  /** Resolves once every subscribed type has had a response on the current stream. */
  synced(timeoutMs?: number): Promise<void>;
  /** Throws when the stream ended for good (reconnect off, or closed), with the server's reason. */
  assertHealthy(): void;
  /** Ends the stream and stops reconnecting. */
  close(): void;
}
