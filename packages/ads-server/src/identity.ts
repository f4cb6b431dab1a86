// The verified identity of a client: what its TLS certificate says, checked
// by the handshake against the CA the server trusts.
import type { PeerCertificate } from "node:tls";

/** Who is on the other end of a stream, as its client certificate says. */
export interface PeerIdentity {
  /** URI SANs, e.g. `spiffe://cluster.local/ns/default/sa/reviews`. */
  readonly uriSans: readonly string[];
  /** DNS SANs. */
  readonly dnsSans: readonly string[];
  /** The first SPIFFE ID among the URI SANs, if any. */
  readonly spiffeId: string | undefined;
  /** The certificate subject, as `CN=…, O=…`. */
  readonly subject: string;
  /** SHA-256 fingerprint of the certificate (colon-separated hex, as Node prints it). */
  readonly fingerprint: string;
}

function subjectOf(cert: PeerCertificate): string {
  const s = cert.subject as unknown as Record<string, string | string[]> | undefined;
  if (!s) return "";
  return Object.entries(s)
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join("+") : v}`)
    .join(", ");
}

/** Reads a peer certificate's names. */
export function identityFromCertificate(cert: PeerCertificate): PeerIdentity {
  const uriSans: string[] = [];
  const dnsSans: string[] = [];
  // Node prints SANs as `URI:spiffe://…, DNS:a.example, IP Address:…`.
  for (const part of (cert.subjectaltname ?? "").split(/,\s*/)) {
    if (part.startsWith("URI:")) uriSans.push(part.slice(4));
    else if (part.startsWith("DNS:")) dnsSans.push(part.slice(4));
  }
  return {
    uriSans,
    dnsSans,
    spiffeId: uriSans.find((u) => u.startsWith("spiffe://")),
    subject: subjectOf(cert),
    fingerprint: cert.fingerprint256 ?? "",
  };
}

/** The identity of a call's peer: undefined on plaintext, or on TLS without a client certificate. */
export function identityOf(call: {
  getAuthContext?(): { sslPeerCertificate?: PeerCertificate | undefined };
}): PeerIdentity | undefined {
  let cert: PeerCertificate | undefined;
  try {
    cert = call.getAuthContext?.().sslPeerCertificate;
  } catch {
    return undefined;
  }
  // An empty object stands for "no certificate" in Node's TLS API.
  if (!cert?.raw || Object.keys(cert).length === 0) return undefined;
  return identityFromCertificate(cert);
}
