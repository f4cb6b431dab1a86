// Istio's syncz: per client and type, what was sent, ACKed and NACKed.
import type { AdsServer } from "@xdskit/ads-server";

/** A client's state for one type. */
export interface SyncStatus {
  readonly nodeId: string;
  readonly nodeGroup: string;
  readonly connection: string;
  readonly type: string;
  /** SYNCED: the latest sent version is ACKed; STALE: sent, not yet ACKed; NACKED: the latest sent was rejected; NOT_SENT. */
  readonly status: "SYNCED" | "STALE" | "NACKED" | "NOT_SENT";
  readonly sentVersion: string | null;
  readonly sentNonce: string | null;
  readonly ackedVersion: string | null;
  readonly nack: {
    readonly version: string;
    readonly nonce: string;
    readonly error: string;
    readonly at: string;
  } | null;
}

/** Every connected client's sync state, type by type. */
export function syncz(ads: AdsServer): SyncStatus[] {
  const out: SyncStatus[] = [];
  for (const c of ads.connections.list()) {
    for (const t of c.types) {
      const nacked = t.lastNack !== undefined && t.lastNack.nonce === t.sentNonce;
      const status =
        // A client that reconnected holding the current version was sent nothing and is synced.
        t.sentVersion === undefined
          ? "NOT_SENT"
          : nacked
            ? "NACKED"
            : t.ackedVersion === t.sentVersion
              ? "SYNCED"
              : "STALE";
      out.push({
        nodeId: c.nodeId,
        nodeGroup: c.nodeGroup,
        connection: c.id,
        type: t.shortName,
        status,
        sentVersion: t.sentVersion ?? null,
        sentNonce: t.sentNonce ?? null,
        ackedVersion: t.ackedVersion ?? null,
        nack: t.lastNack
          ? { version: t.lastNack.version, nonce: t.lastNack.nonce, error: t.lastNack.errorMessage, at: t.lastNack.at }
          : null,
      });
    }
  }
  return out;
}

/** The same as a fixed-width table, for `curl` and terminals. */
export function synczText(rows: readonly SyncStatus[]): string {
  const head = ["NODE", "GROUP", "TYPE", "STATUS", "SENT", "ACKED", "NACK"];
  const body = rows.map((r) => [
    r.nodeId,
    r.nodeGroup,
    r.type,
    r.status,
    r.sentVersion ?? "-",
    r.ackedVersion ?? "-",
    r.nack?.error ?? "",
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  return `${[line(head), ...body.map(line)].join("\n")}\n`;
}
