// What the dashboard plots: recent convergence times and NACKs, recorded
// from the ADS server's events (bounded rings; pushes come from the controller).
import type { AdsServer, AdsServerEvents } from "@xdskit/ads-server";

/** One NACK as the pages show it. */
export interface NackSample {
  readonly at: string;
  readonly nodeId: string;
  readonly type: string;
  readonly version: string;
  readonly error: string;
}

const KEEP = 1000;

/** Records convergence times and NACKs; `close()` stops listening. */
export class ActivityRecorder {
  readonly convergence: { at: number; ms: number; type: string }[] = [];
  readonly nacks: NackSample[] = [];
  readonly #onAck: AdsServerEvents["ack"] = (e) => {
    if (e.convergenceMs === undefined) return;
    this.convergence.push({ at: Date.now(), ms: e.convergenceMs, type: e.typeUrl.split(".").pop() ?? e.typeUrl });
    if (this.convergence.length > KEEP) this.convergence.shift();
  };
  readonly #onNack: AdsServerEvents["nack"] = (e) => {
    this.nacks.push({
      at: new Date().toISOString(),
      nodeId: e.connection.nodeId,
      type: e.typeUrl.split(".").pop() ?? e.typeUrl,
      version: e.version,
      error: e.errorMessage,
    });
    if (this.nacks.length > KEEP) this.nacks.shift();
  };

  constructor(readonly ads: AdsServer) {
    ads.on("ack", this.#onAck);
    ads.on("nack", this.#onNack);
  }

  close(): void {
    this.ads.off("ack", this.#onAck);
    this.ads.off("nack", this.#onNack);
  }
}
