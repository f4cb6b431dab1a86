import { findResourceType, referencesOf } from "@xdskit/xds-types";
import type { ConsistencyIssue, Snapshot } from "./types.js";

function shortName(typeUrl: string): string {
  return findResourceType(typeUrl)?.shortName ?? typeUrl;
}

/**
 * Checks a snapshot for dangling references: every cluster named by a route or
 * listener exists, every EDS cluster has an endpoint assignment, every RDS name
 * referenced by a listener has a route configuration. A type the snapshot does
 * not carry counts as empty.
 */
export function checkConsistency(snapshot: Snapshot): ConsistencyIssue[] {
  const issues: ConsistencyIssue[] = [];
  for (const [typeUrl, ts] of snapshot.types) {
    for (const res of ts.resources.values()) {
      for (const ref of referencesOf(typeUrl, res.message)) {
        const target = snapshot.types.get(ref.toType);
        if (target?.resources.has(ref.toName)) continue;
        issues.push({
          message: `${shortName(typeUrl)} "${res.name}" names ${shortName(ref.toType)} "${ref.toName}" (${ref.via}) which is not in the snapshot`,
          fromType: typeUrl,
          fromName: res.name,
          toType: ref.toType,
          toName: ref.toName,
        });
      }
    }
  }
  return issues;
}
