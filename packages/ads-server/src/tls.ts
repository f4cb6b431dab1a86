// TLS and mTLS for the ADS port from certificate files that are re-read when
// they change: new connections use the new material, live streams are not cut.
import fs from "node:fs";
import tls from "node:tls";
import { type ServerCredentials, experimental } from "@grpc/grpc-js";
import { XdsError } from "@xdskit/xds-types";

/** Options of {@link tlsServerCredentials}. */
export interface TlsServerOptions {
  /** PEM certificate chain of the server. */
  readonly certFile: string;
  /** PEM private key of the server. */
  readonly keyFile: string;
  /** PEM CA bundle clients' certificates must chain to: mTLS. Without it, TLS only. */
  readonly clientCaFile?: string;
  /** How often the files are checked for changes, in ms. Default 1,000. */
  readonly refreshMs?: number;
  /** Told when a changed file could not be used (the previous material stays in use). */
  readonly onError?: (error: Error) => void;
}

type CaListener = (update: { caCertificate: Buffer } | null) => void;
type IdentityListener = (update: { certificate: Buffer; privateKey: Buffer } | null) => void;

function read(file: string, what: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw new XdsError("invalid_argument", `${what} ${file} cannot be read: ${(err as Error).message}`);
  }
}

function stamp(files: readonly string[]): string {
  return files
    .map((f) => {
      try {
        const s = fs.statSync(f);
        return `${s.ino}:${s.size}:${s.mtimeMs}`;
      } catch {
        return "missing";
      }
    })
    .join("|");
}

/**
 * A grpc-js certificate provider over files: ready as soon as it is made
 * (the first connection does not race the first read), polling for changes,
 * and never handing over a certificate and key that do not belong together —
 * mid-rotation, when one file is new and the other not yet, the previous
 * pair stays in use until both agree.
 */
class WatchedFiles {
  #ca: Buffer | undefined;
  #identity: { certificate: Buffer; privateKey: Buffer } | undefined;
  #stamp: string;
  #timer: NodeJS.Timeout | undefined;
  readonly #caListeners = new Set<CaListener>();
  readonly #identityListeners = new Set<IdentityListener>();

  constructor(
    readonly files: { cert?: string; key?: string; ca?: string },
    readonly refreshMs: number,
    readonly onError: ((error: Error) => void) | undefined,
  ) {
    this.#stamp = stamp(this.#paths());
    this.#load(true);
  }

  #paths(): string[] {
    return [this.files.cert, this.files.key, this.files.ca].filter((f): f is string => f !== undefined);
  }

  #load(first: boolean): void {
    try {
      if (this.files.ca) {
        const ca = read(this.files.ca, "the client CA file");
        tls.createSecureContext({ ca });
        this.#ca = ca;
      }
      if (this.files.cert && this.files.key) {
        const certificate = read(this.files.cert, "the certificate file");
        const privateKey = read(this.files.key, "the private key file");
        // Throws when the key does not belong to the certificate.
        tls.createSecureContext({ cert: certificate, key: privateKey });
        this.#identity = { certificate, privateKey };
      }
    } catch (err) {
      const error =
        err instanceof XdsError ? err : new XdsError("invalid_argument", `TLS files: ${(err as Error).message}`);
      if (first) throw error;
      this.onError?.(error);
      return;
    }
    if (!first) {
      for (const l of this.#caListeners) l(this.#ca ? { caCertificate: this.#ca } : null);
      for (const l of this.#identityListeners) l(this.#identity ?? null);
    }
  }

  #watch(): void {
    if (this.#timer || (this.#caListeners.size === 0 && this.#identityListeners.size === 0)) return;
    this.#timer = setInterval(() => {
      const now = stamp(this.#paths());
      if (now === this.#stamp) return;
      this.#stamp = now;
      this.#load(false);
    }, this.refreshMs);
    this.#timer.unref();
  }

  #unwatch(): void {
    if (this.#caListeners.size > 0 || this.#identityListeners.size > 0) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  // The first update goes out on a microtask: grpc-js registers the server's
  // watcher only after it added its listeners, and must not miss it. It still
  // arrives before the port accepts its first connection.
  addCaCertificateListener(l: CaListener): void {
    this.#caListeners.add(l);
    queueMicrotask(() => {
      if (this.#caListeners.has(l)) l(this.#ca ? { caCertificate: this.#ca } : null);
    });
    this.#watch();
  }

  removeCaCertificateListener(l: CaListener): void {
    this.#caListeners.delete(l);
    this.#unwatch();
  }

  addIdentityCertificateListener(l: IdentityListener): void {
    this.#identityListeners.add(l);
    queueMicrotask(() => {
      if (this.#identityListeners.has(l)) l(this.#identity ?? null);
    });
    this.#watch();
  }

  removeIdentityCertificateListener(l: IdentityListener): void {
    this.#identityListeners.delete(l);
    this.#unwatch();
  }
}

/**
 * Server credentials from files, watched: replacing them (even with a new CA)
 * takes effect for new connections within `refreshMs`; live streams are not
 * cut. With `clientCaFile`, a client must present a certificate chaining to
 * it, or the handshake fails. Built on grpc-js's certificate-provider
 * credentials. Throws at once when a file is missing or the key does not
 * belong to the certificate.
 */
export function tlsServerCredentials(options: TlsServerOptions): ServerCredentials {
  const refreshMs = options.refreshMs ?? 1000;
  const identity = new WatchedFiles({ cert: options.certFile, key: options.keyFile }, refreshMs, options.onError);
  const ca = options.clientCaFile ? new WatchedFiles({ ca: options.clientCaFile }, refreshMs, options.onError) : null;
  // grpc-js hands its arguments to the credentials in (identity, CA) order,
  // whatever its declaration calls them.
  return experimental.createCertificateProviderServerCredentials(
    identity as never,
    ca as never,
    options.clientCaFile !== undefined,
  );
}
