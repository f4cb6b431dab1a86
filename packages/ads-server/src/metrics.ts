/**
 * The metrics hooks of the ADS server. The server calls them; an adapter maps
 * them onto a metrics library. `@xdskit/ads-server/prom` has the prom-client one.
 */
export interface AdsMetrics {
  /** A stream was registered (+1) or went away (-1). */
  connections(delta: 1 | -1): void;
  /** A response of a type (short name, e.g. "CDS") was written, taking `seconds` to assemble and write. */
  push(type: string, seconds: number): void;
  /** A client rejected a response of a type. */
  nack(type: string): void;
  /** Writing a response failed. */
  sendError(type: string): void;
  /** A stream was refused or ended because a limit was reached (`reason` names the limit). Optional. */
  refused?(reason: string): void;
  /** A client ACKed a version `seconds` after the change behind it was seen (when the writer said when). Optional. */
  convergence?(type: string, seconds: number): void;
  /** A request carried a nonce that is not the latest sent (stale or unknown). Optional. */
  staleNonce?(type: string): void;
  /** HTTP/2 took a response's bytes `seconds` after it was written, `bytes` long. Optional. */
  sent?(type: string, seconds: number, bytes: number): void;
}
