import fs from "node:fs";
import net from "node:net";
import * as grpc from "@grpc/grpc-js";

/** How to reach the control plane: plaintext (default), TLS, or mTLS with a client certificate. */
export type ConnectionSecurity =
  | { readonly insecure: true }
  | {
      /** PEM of the CA to trust; default: the system roots. */
      readonly ca?: Uint8Array | string;
      /** PEM client certificate and key, for mTLS. */
      readonly cert?: Uint8Array | string;
      readonly key?: Uint8Array | string;
    };

function pem(v: Uint8Array | string | undefined): Buffer | null {
  if (v === undefined) return null;
  return typeof v === "string" ? Buffer.from(v) : Buffer.from(v);
}

/** grpc-js channel credentials for a {@link ConnectionSecurity}. */
export function channelCredentials(security: ConnectionSecurity | undefined): grpc.ChannelCredentials {
  if (!security || "insecure" in security) return grpc.credentials.createInsecure();
  if ((security.cert === undefined) !== (security.key === undefined)) {
    throw new Error("mTLS needs both a client certificate and its key; got only one of them");
  }
  return grpc.credentials.createSsl(pem(security.ca), pem(security.key), pem(security.cert));
}

/** Reads TLS material from files (the CLI's --ca/--cert/--key), naming the file that cannot be read. */
export function securityFromFiles(files: {
  tls?: boolean;
  ca?: string;
  cert?: string;
  key?: string;
}): ConnectionSecurity {
  if (!files.tls && !files.ca && !files.cert && !files.key) return { insecure: true };
  const read = (what: string, file: string | undefined) => {
    if (file === undefined) return undefined;
    try {
      return fs.readFileSync(file);
    } catch (err) {
      throw new Error(`cannot read the ${what} file ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
  };
  const out: { ca?: Uint8Array; cert?: Uint8Array; key?: Uint8Array } = {};
  const ca = read("CA", files.ca);
  const cert = read("certificate", files.cert);
  const key = read("key", files.key);
  if (ca) out.ca = ca;
  if (cert) out.cert = cert;
  if (key) out.key = key;
  return out;
}

const REASONS: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ENOTFOUND: "host not found",
  EAI_AGAIN: "host name lookup failed",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  ECONNRESET: "connection reset",
};

/** Splits `host:port` (or `[v6]:port`), with a readable error for anything else. */
export function parseTarget(target: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(target);
  const port = Number(m?.[3]);
  if (!m || !(port > 0 && port < 65536)) {
    throw new Error(`"${target}" is not a server address; expected host:port, e.g. 127.0.0.1:15010`);
  }
  return { host: m[1] ?? m[2] ?? "", port };
}

/**
 * Opens and closes a TCP connection to the target, so a command can say why
 * it cannot reach the server (`cannot reach 127.0.0.1:15010: connection
 * refused`) instead of a generic deadline error.
 */
export async function probe(target: string, timeoutMs = 3000): Promise<void> {
  const { host, port } = parseTarget(target);
  await new Promise<void>((resolve, reject) => {
    const socket = net.connect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`cannot reach ${target}: no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once("connect", () => {
      clearTimeout(timer);
      socket.end();
      resolve();
    });
    socket.once("error", (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new Error(`cannot reach ${target}: ${REASONS[err.code ?? ""] ?? err.message}`));
    });
  });
}
