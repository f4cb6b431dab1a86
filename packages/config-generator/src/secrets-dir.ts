// Secrets from a folder, for SDS: `<dir>/<namespace>/<name>/tls.crt` and
// `tls.key` become the TLS certificate secret `<namespace>/<name>` (and a
// `ca.crt` beside them the validation context `<namespace>/<name>-cacert`, as
// Istio serves a gateway's credential for mutual TLS); a folder with only
// `ca.crt` becomes a validation context. Files are watched, and a
// rotation pushes a new version. Which client may receive which secret is the
// ADS server's per-resource authorization (`secretsByNamespace`).
import fs from "node:fs";
import path from "node:path";
import { create } from "@bufbuild/protobuf";
import { XdsError } from "@xdskit/xds-types";
import { type Secret, SecretSchema } from "@xdskit/xds-types/gen/envoy/extensions/transport_sockets/tls/v3/secret_pb";
import { EventEmitter } from "eventemitter3";
import type { SourceEvents } from "./sources.js";

/** A watched secrets folder. */
export interface SecretsDirSource {
  readonly dir: string;
  /** Every secret read, by name `<namespace>/<name>`. */
  secrets(): readonly Secret[];
  /** Problems of the last scan (a folder with a certificate but no key, …); those folders keep their last good content. */
  readonly problems: readonly string[];
  /** Listens for changed secrets. */
  on(event: "change", listener: SourceEvents["change"]): unknown;
  /** Listens for folders that could not be read. */
  on(event: "rejected", listener: SourceEvents["rejected"]): unknown;
  /** Stops listening for changed secrets. */
  off(event: "change", listener: SourceEvents["change"]): unknown;
  /** Stops listening for folders that could not be read. */
  off(event: "rejected", listener: SourceEvents["rejected"]): unknown;
  /** Scans the folder now. */
  rescan(): void;
  /** Stops watching. */
  close(): void;
}

const MAX_FILE_BYTES = 1024 * 1024;

function readPem(file: string): Buffer | undefined {
  try {
    const st = fs.statSync(file);
    if (!st.isFile()) return undefined;
    if (st.size > MAX_FILE_BYTES)
      throw new XdsError("invalid_config", `${file} is ${st.size} bytes; the limit is ${MAX_FILE_BYTES}`);
    return fs.readFileSync(file);
  } catch (err) {
    if ((err as { code?: string }).code === "ENOENT") return undefined;
    throw err;
  }
}

function subdirs(dir: string): string[] {
  try {
    return fs
      .readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory() && !e.name.startsWith("."))
      .map((e) => e.name)
      .sort();
  } catch {
    return [];
  }
}

class SecretsDir extends EventEmitter<SourceEvents> implements SecretsDirSource {
  #secrets = new Map<string, { stamp: string; secret: Secret; ca?: Secret }>();
  #problems: string[] = [];
  readonly #timer: NodeJS.Timeout;

  constructor(
    readonly dir: string,
    pollMs: number,
  ) {
    super();
    if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
      throw new XdsError("invalid_config", `the secrets folder ${dir} does not exist or is not a folder`);
    }
    this.#scan(false);
    this.#timer = setInterval(() => this.#scan(true), pollMs);
    this.#timer.unref();
  }

  get problems(): readonly string[] {
    return this.#problems;
  }

  secrets(): readonly Secret[] {
    return [...this.#secrets.values()].flatMap((e) => (e.ca ? [e.secret, e.ca] : [e.secret]));
  }

  rescan(): void {
    this.#scan(true);
  }

  #scan(notify: boolean): void {
    const next = new Map<string, { stamp: string; secret: Secret; ca?: Secret }>();
    const problems: string[] = [];
    for (const ns of subdirs(this.dir)) {
      for (const name of subdirs(path.join(this.dir, ns))) {
        const folder = path.join(this.dir, ns, name);
        const id = `${ns}/${name}`;
        const files = ["tls.crt", "tls.key", "ca.crt"].map((f) => path.join(folder, f));
        const stamp = files
          .map((f) => {
            try {
              const s = fs.statSync(f);
              return `${s.size}:${s.mtimeMs}`;
            } catch {
              return "-";
            }
          })
          .join("|");
        const prev = this.#secrets.get(id);
        if (prev && prev.stamp === stamp) {
          next.set(id, prev);
          continue;
        }
        try {
          const [crt, key, ca] = files.map(readPem);
          let secret: Secret;
          let caSecret: Secret | undefined;
          if (crt && key) {
            secret = create(SecretSchema, {
              name: id,
              type: {
                case: "tlsCertificate",
                value: {
                  certificateChain: { specifier: { case: "inlineBytes", value: crt } },
                  privateKey: { specifier: { case: "inlineBytes", value: key } },
                },
              },
            });
            if (ca)
              caSecret = create(SecretSchema, {
                name: `${id}-cacert`,
                type: {
                  case: "validationContext",
                  value: { trustedCa: { specifier: { case: "inlineBytes", value: ca } } },
                },
              });
          } else if (ca && !crt && !key) {
            secret = create(SecretSchema, {
              name: id,
              type: {
                case: "validationContext",
                value: { trustedCa: { specifier: { case: "inlineBytes", value: ca } } },
              },
            });
          } else {
            throw new XdsError(
              "invalid_config",
              `${folder}: expected tls.crt with tls.key (a certificate), or ca.crt alone (a validation context)`,
            );
          }
          next.set(id, caSecret ? { stamp, secret, ca: caSecret } : { stamp, secret });
        } catch (err) {
          problems.push(err instanceof Error ? err.message : String(err));
          // A broken folder keeps its last good content.
          if (prev) next.set(id, prev);
        }
      }
    }
    const changed = next.size !== this.#secrets.size || [...next].some(([id, e]) => this.#secrets.get(id) !== e);
    this.#secrets = next;
    const newProblems = problems.filter((p) => !this.#problems.includes(p));
    this.#problems = problems;
    if (!notify) return;
    for (const p of newProblems)
      this.emit("rejected", { reason: "secrets folder", error: new XdsError("invalid_config", p) });
    if (changed) this.emit("change", { kinds: ["secrets"], reason: `secrets in ${path.basename(this.dir)} changed` });
  }

  close(): void {
    clearInterval(this.#timer);
  }
}

/** Reads and watches a secrets folder (see the module comment for the layout). */
export function createSecretsDirSource(options: { dir: string; pollMs?: number }): SecretsDirSource {
  return new SecretsDir(path.resolve(options.dir), options.pollMs ?? 500);
}
