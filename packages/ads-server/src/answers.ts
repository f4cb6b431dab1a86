import type { Connection } from "./connection.js";
import type { ServerContext } from "./server-context.js";
import type { TypeState } from "./type-state.js";

/** The error a client sent back with a NACK. */
export interface ErrorDetail {
  readonly code: number;
  readonly message: string;
}

/** Tells the host of a request, when it listens (the event is built only then: most requests are ACKs). */
export function announceRequest(
  env: ServerContext,
  conn: Connection,
  typeUrl: string,
  resourceNames: readonly string[],
  versionInfo: string,
  responseNonce: string,
): void {
  if (!env.listens("request")) return;
  env.emit("request", { connection: conn.ref(), typeUrl, resourceNames, versionInfo, responseNonce });
}

/**
 * Records a client's answer to the response that carried `nonce` (at
 * `version`): a NACK when `errorDetail` is present (the presence, not the
 * version, is what marks a rejection), an ACK otherwise.
 */
export function recordAnswer(
  env: ServerContext,
  conn: Connection,
  state: TypeState,
  nonce: string,
  version: string,
  errorDetail: ErrorDetail | undefined,
): void {
  if (errorDetail) {
    state.lastNack = {
      version,
      nonce,
      errorCode: errorDetail.code,
      errorMessage: errorDetail.message,
      at: new Date(),
    };
    env.metrics?.nack(state.shortName);
    env.log.info("NACK", {
      connection: conn.id,
      node: conn.nodeId,
      typeUrl: state.typeUrl,
      version,
      error: errorDetail.message,
    });
    env.emit("nack", {
      connection: conn.ref(),
      typeUrl: state.typeUrl,
      version,
      nonce,
      errorCode: errorDetail.code,
      errorMessage: errorDetail.message,
    });
  } else {
    state.ackedVersion = version;
    state.ackedAt = new Date();
    let convergenceMs: number | undefined;
    // The ACK of the latest response closes the loop from the change behind it.
    if (nonce === state.sentNonce && state.sentChangedAt !== undefined) {
      convergenceMs = Math.max(0, Date.now() - state.sentChangedAt);
      state.sentChangedAt = undefined;
      env.metrics?.convergence?.(state.shortName, convergenceMs / 1000);
    }
    if (!env.listens("ack")) return;
    env.emit("ack", {
      connection: conn.ref(),
      typeUrl: state.typeUrl,
      version,
      nonce,
      ...(convergenceMs !== undefined ? { convergenceMs } : {}),
    });
  }
}
