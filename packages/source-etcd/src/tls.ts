// TLS to etcd from PEM files: the CA that signed etcd's certificate, and the
// client certificate etcd asks for when it runs with --client-cert-auth.
import fs from "node:fs";
import type { IOptions } from "etcd3";

/** PEM files for a TLS connection to etcd. */
export interface EtcdTlsFiles {
  /** The CA etcd's server certificate chains to. Default: the system roots. */
  readonly caFile?: string;
  /** This client's certificate, for etcd's `--client-cert-auth` (with `keyFile`). */
  readonly certFile?: string;
  /** The key of `certFile`. */
  readonly keyFile?: string;
}

function read(file: string, what: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw new Error(`cannot read the etcd ${what} ${file}: ${(err as Error).message}`);
  }
}

/**
 * The etcd3 options for `endpoints`, with TLS from `tls` when given. Throws
 * naming the mistake: a URL that is not http(s), a mix of both, TLS files
 * with http:// URLs, a certificate without its key, or a file it cannot read.
 */
export function etcdConnection(
  endpoints: readonly string[],
  tls?: EtcdTlsFiles,
): Pick<IOptions, "hosts" | "credentials"> {
  if (endpoints.length === 0) throw new Error("no etcd URL given; expected one like http://127.0.0.1:2379");
  for (const u of endpoints)
    if (!/^https?:\/\/[^/\s]+\/?$/.test(u))
      throw new Error(`etcd URL ${JSON.stringify(u)} is not of the form http://host:port or https://host:port`);
  const secure = endpoints.filter((u) => u.startsWith("https://")).length;
  if (secure !== 0 && secure !== endpoints.length)
    throw new Error(`etcd URLs mix http:// and https://: ${endpoints.join(",")}; use one scheme for every member`);
  const files = tls && (tls.caFile || tls.certFile || tls.keyFile) ? tls : undefined;
  if (!files) return { hosts: [...endpoints] };
  if (secure === 0)
    throw new Error(`etcd TLS files were given but the URLs are http:// (${endpoints.join(",")}); use https://`);
  if (Boolean(files.certFile) !== Boolean(files.keyFile))
    throw new Error("an etcd client certificate needs its key, and a key its certificate: give both or neither");
  const credentials: NonNullable<IOptions["credentials"]> = {
    // etcd3 types the root as required; an empty buffer is not a root, so the
    // system roots are used only when no CA is given (createSsl(undefined)).
    rootCertificate: files.caFile ? read(files.caFile, "CA file") : (undefined as unknown as Buffer),
    ...(files.certFile ? { certChain: read(files.certFile, "client certificate") } : {}),
    ...(files.keyFile ? { privateKey: read(files.keyFile, "client key") } : {}),
  };
  return { hosts: [...endpoints], credentials };
}
