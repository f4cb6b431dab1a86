// grpc-js sets the TLS server name to the host of a target like
// 127.0.0.1:15010, and Node warns (DEP0123) that an IP is not a valid server
// name. For an xDS client or a CLI talking to a control plane or etcd by IP
// that is harmless, and noise next to its answer.

let quieted = false;

/** Drops Node's DEP0123 warning (TLS server name set to an IP address) from this process; every other warning stays. */
export function quietIpServerNameWarnings(): void {
  if (quieted) return;
  quieted = true;
  const emit = process.emitWarning.bind(process) as (...args: unknown[]) => void;
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    const code = typeof rest[0] === "object" && rest[0] ? (rest[0] as { code?: string }).code : rest[1];
    if (code === "DEP0123" || String(warning).includes("TLS ServerName to an IP address")) return;
    emit(warning, ...rest);
  }) as typeof process.emitWarning;
}
