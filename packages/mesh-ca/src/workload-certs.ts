// Workload certificates over SDS, as Istio's sidecars ask for them: the
// secret `default` (the workload's certificate chain and key) and `ROOTCA`
// (the mesh's trust bundle). One certificate per identity the pilot serves,
// issued on first use, rotated when half its life has passed (a change the
// controller pushes), and dropped when no workload has asked for it in a
// while. Which stream may receive which `default` is the ADS server's
// per-resource authorization (see `workloadSecretsPolicy`): only one that
// proved the identity.
import { create } from "@bufbuild/protobuf";
import type { ResourceBuilder, SourceEvents } from "@xdskit/config-generator";
import { type Secret, SecretSchema } from "@xdskit/xds-types/gen/envoy/extensions/transport_sockets/tls/v3/secret_pb";
import { EventEmitter } from "eventemitter3";
import type { IssuedCertificate, MeshCa } from "./ca.js";

/** The SDS name of a workload's certificate and key (Istio's). */
export const WORKLOAD_SECRET = "default";
/** The SDS name of the mesh's trust bundle (Istio's). */
export const ROOT_SECRET = "ROOTCA";

/** Options of {@link WorkloadCertificates}. */
export interface WorkloadCertificatesOptions {
  readonly ca: MeshCa;
  /** How long a certificate is valid. Default 24 h. */
  readonly ttlMs?: number;
  /** The share of its life after which a certificate is replaced. Default 0.5. */
  readonly rotateAfter?: number;
  /** How often certificates are checked for rotation, ms. Default 1000 (never more than a tenth of the TTL). */
  readonly checkEveryMs?: number;
  /** Most identities held; the least recently used go first beyond it. Default 100,000. */
  readonly maxIdentities?: number;
}

/** What the debug pages show of a certificate: never the key. */
export interface CertificateInfo {
  readonly spiffeId: string;
  readonly serial: string;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly rotatesAt: string;
  /** Certificates issued for this identity so far (1 + rotations). */
  readonly issued: number;
}

interface Held {
  cert: IssuedCertificate;
  secret: Secret;
  rotatesAt: number;
  usedAt: number;
  issued: number;
  /** When a rotation was asked for (a push then rebuilds whoever uses it). */
  signalledAt?: number;
}

/**
 * The certificates the pilot has issued to workloads, as a source (it emits
 * `change` when some are due for rotation) and an SDS builder.
 */
export class WorkloadCertificates extends EventEmitter<SourceEvents> {
  readonly ca: MeshCa;
  readonly ttlMs: number;
  readonly #rotateAfter: number;
  readonly #max: number;
  readonly #held = new Map<string, Held>();
  readonly #root: Secret;
  readonly #timer: NodeJS.Timeout;

  constructor(options: WorkloadCertificatesOptions) {
    super();
    this.ca = options.ca;
    this.ttlMs = options.ttlMs ?? 24 * 3600_000;
    this.#rotateAfter = options.rotateAfter ?? 0.5;
    this.#max = options.maxIdentities ?? 100_000;
    if (!(this.ttlMs >= 10_000)) throw new Error(`ttlMs must be at least 10000 (10 s), got ${this.ttlMs}`);
    if (!(this.#rotateAfter > 0 && this.#rotateAfter < 1)) throw new Error("rotateAfter must be between 0 and 1");
    this.#root = create(SecretSchema, {
      name: ROOT_SECRET,
      type: {
        case: "validationContext",
        value: { trustedCa: { specifier: { case: "inlineBytes", value: Buffer.from(this.ca.rootPem) } } },
      },
    });
    const every = Math.min(options.checkEveryMs ?? 1000, Math.floor(this.ttlMs / 10));
    this.#timer = setInterval(() => this.#check(), every);
    this.#timer.unref();
  }

  /** The SPIFFE ID a proxy claims (namespace and service account), or undefined when it claims none. */
  identityOf(proxy: { namespace?: string | undefined; serviceAccount?: string | undefined }): string | undefined {
    return proxy.namespace && proxy.serviceAccount
      ? this.ca.spiffeId(proxy.namespace, proxy.serviceAccount)
      : undefined;
  }

  /**
   * The per-workload SDS builder: `default` for the identity the proxy claims
   * and `ROOTCA`. Register it with `workloadKey: certificates.keyOf`.
   */
  readonly builder: ResourceBuilder = ({ proxy }) => {
    const id = this.identityOf(proxy);
    if (!id || proxy.kind === "proxyless") return [];
    return [this.#current(id).secret, this.#root];
  };

  /** What the builder reads of a proxy (its claimed identity): the `workloadKey` to register it with. */
  readonly keyOf = (proxy: { namespace?: string; serviceAccount?: string; kind: string }): string =>
    proxy.kind === "proxyless" ? "" : (this.identityOf(proxy) ?? "");

  #current(id: string): Held {
    const now = Date.now();
    let held = this.#held.get(id);
    if (!held || held.rotatesAt <= now) {
      const cert = this.ca.issue(id, { ttlMs: this.ttlMs });
      const life = cert.notAfter.getTime() - now;
      held = {
        cert,
        secret: create(SecretSchema, {
          name: WORKLOAD_SECRET,
          type: {
            case: "tlsCertificate",
            value: {
              certificateChain: { specifier: { case: "inlineBytes", value: Buffer.from(cert.certificateChainPem) } },
              privateKey: { specifier: { case: "inlineBytes", value: Buffer.from(cert.privateKeyPem) } },
            },
          },
        }),
        // A little jitter, so certificates issued together do not all rotate in one push.
        rotatesAt: now + life * this.#rotateAfter * (0.95 + Math.random() * 0.05),
        usedAt: now,
        issued: (held?.issued ?? 0) + 1,
      };
      this.#held.delete(id);
      this.#held.set(id, held);
      this.#evict();
    }
    held.usedAt = now;
    return held;
  }

  // Least recently issued first beyond the limit; and any not asked for in two lifetimes.
  #evict(): void {
    const stale = Date.now() - 2 * this.ttlMs;
    for (const [id, h] of this.#held) if (h.usedAt < stale) this.#held.delete(id);
    while (this.#held.size > this.#max) {
      const first = this.#held.keys().next().value as string;
      this.#held.delete(first);
    }
  }

  #check(): void {
    const now = Date.now();
    const fresh: Held[] = [];
    for (const [id, h] of this.#held) {
      if (h.rotatesAt > now) continue;
      // Asked to rotate, and no build used it since: no workload holds it any more.
      if (h.signalledAt !== undefined && h.usedAt < h.signalledAt) this.#held.delete(id);
      else if (h.signalledAt === undefined) fresh.push(h);
    }
    if (fresh.length === 0) return;
    for (const h of fresh) h.signalledAt = now;
    // One change per round of rotations: the push that follows issues them.
    this.emit("change", { kinds: ["secrets"], reason: `${fresh.length} workload certificate(s) due for rotation` });
  }

  /** The certificates held, for debug pages: identities, serials and lifetimes, never keys. */
  certificates(): CertificateInfo[] {
    return [...this.#held.values()]
      .map((h) => ({
        spiffeId: h.cert.spiffeId,
        serial: h.cert.serial,
        notBefore: h.cert.notBefore.toISOString(),
        notAfter: h.cert.notAfter.toISOString(),
        rotatesAt: new Date(h.rotatesAt).toISOString(),
        issued: h.issued,
      }))
      .sort((a, b) => (a.spiffeId < b.spiffeId ? -1 : 1));
  }

  /** Stops the rotation timer. */
  close(): void {
    clearInterval(this.#timer);
  }
}
