// Who may read the admin pages: with a token, every page but /healthz needs
// `Authorization: Bearer <token>`; without one, the port must stay on the
// loopback.
import crypto from "node:crypto";
import type http from "node:http";
import { isIP } from "node:net";
import { XdsError } from "@xdskit/xds-types";

/** True when `host` is a loopback address or name. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "");
  if (h === "localhost" || h === "::1") return true;
  return isIP(h) === 4 && h.startsWith("127.");
}

/** Refuses an admin bind that would expose the pages without a token. */
export function assertSafeBind(host: string, token: string | undefined): void {
  if (!token && !isLoopback(host)) {
    throw new XdsError(
      "invalid_argument",
      `refusing to serve the admin pages on ${host} without a token: bind a loopback address, or give a token (--admin-token-file)`,
    );
  }
}

/**
 * True when the request carries the token (compared in constant time): in
 * `Authorization: Bearer`, or — for a browser opening /ui — in the
 * `access_token` query parameter (RFC 6750).
 */
export function authorized(req: http.IncomingMessage, token: string, url?: URL): boolean {
  const header = req.headers.authorization ?? "";
  const m = /^Bearer\s+(.+)$/i.exec(header);
  const raw = m ? (m[1] as string).trim() : url?.searchParams.get("access_token");
  if (!raw) return false;
  const given = Buffer.from(raw);
  const want = Buffer.from(token);
  return given.length === want.length && crypto.timingSafeEqual(given, want);
}
