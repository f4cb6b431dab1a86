// xdskit-mesh: load a mesh file into etcd, or dump what etcd holds as one.
//   xdskit-mesh put --etcd http://127.0.0.1:2379 [--prefix /xdskit/] [--prune] mesh.yaml
//   xdskit-mesh get --etcd http://127.0.0.1:2379 [--prefix /xdskit/] [--json] [-o FILE]
// Exit codes: 0 done, 1 the store or the file said no, 2 a usage mistake.
import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { parseMeshFile } from "@xdskit/config-generator";
import { quietIpServerNameWarnings } from "@xdskit/xds-types";
import { Etcd3 } from "etcd3";
import { stringify } from "yaml";
import { checkPrefix } from "./layout.js";
import { etcdConnection } from "./tls.js";
import { getMesh, putMesh } from "./mesh-store.js";

/** The command's help text. */
export const MESH_USAGE = `usage: xdskit-mesh put --etcd URL[,URL…] [--prefix /xdskit/] [--prune] [TLS] MESH_FILE
       xdskit-mesh get --etcd URL[,URL…] [--prefix /xdskit/] [--json] [-o FILE] [TLS]

  put       validate MESH_FILE (YAML, or JSON by .json) and write one key per service,
            per host's routes and per gateway port; unchanged keys are left alone
  get       read every key under the prefix, check it, print it as one mesh file
  --etcd    etcd client URLs, comma-separated
  --prefix  where the mesh lives (default /xdskit/; must start and end with /)
  --prune   put: delete mesh keys the file no longer has
  --json    get: JSON instead of YAML
  -o FILE   get: write to FILE instead of standard output
  TLS (https:// URLs): --etcd-ca FILE (default: system roots),
            --etcd-cert FILE --etcd-key FILE (a client certificate, for etcd's --client-cert-auth)`;

/** A mistake in how the command was called (exit code 2). */
export class MeshUsageError extends Error {}

/** Runs the command; returns the exit code. */
export async function runMeshCli(
  argv: readonly string[],
  out: (s: string) => void = (s) => process.stdout.write(s),
  err: (s: string) => void = (s) => process.stderr.write(s),
): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (e) {
    err(`xdskit-mesh: ${(e as Error).message}\n${MESH_USAGE}\n`);
    return 2;
  }
  if (!parsed) {
    out(`${MESH_USAGE}\n`);
    return 0;
  }
  let connection: ReturnType<typeof etcdConnection>;
  try {
    connection = etcdConnection(parsed.etcd, parsed.tls);
  } catch (e) {
    // An unreadable file is the environment's fault (1); a flag mistake is usage (2).
    const message = (e as Error).message;
    if (message.startsWith("cannot read")) {
      err(`xdskit-mesh: ${message}\n`);
      return 1;
    }
    err(`xdskit-mesh: ${message}\n${MESH_USAGE}\n`);
    return 2;
  }
  // etcd over TLS by IP makes Node warn about the server name: noise here.
  quietIpServerNameWarnings();
  const client = new Etcd3({ ...connection, dialTimeout: 3000 });
  try {
    if (parsed.command === "put") {
      const file = parsed.file as string;
      let text: string;
      try {
        text = fs.readFileSync(file, "utf8");
      } catch (e) {
        err(`xdskit-mesh: cannot read ${file}: ${(e as Error).message}\n`);
        return 1;
      }
      const mesh = parseMeshFile(text, path.basename(file));
      const r = await putMesh(client, parsed.prefix, mesh, { prune: parsed.prune });
      out(`put ${parsed.prefix}: ${r.written} key(s) written, ${r.unchanged} unchanged, ${r.deleted} deleted\n`);
      return 0;
    }
    const mesh = await getMesh(client, parsed.prefix);
    const body = parsed.json ? `${JSON.stringify(mesh, null, 2)}\n` : stringify(mesh);
    if (parsed.output) fs.writeFileSync(parsed.output, body);
    else out(body);
    return 0;
  } catch (e) {
    const message = (e as Error).message;
    err(
      `xdskit-mesh: ${/ECONNREFUSED|UNAVAILABLE|No connection|deadline/i.test(message) ? `etcd at ${parsed.etcd.join(",")} did not answer: ` : ""}${message}\n`,
    );
    return 1;
  } finally {
    client.close();
  }
}

function parse(argv: readonly string[]) {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      etcd: { type: "string" },
      prefix: { type: "string", default: "/xdskit/" },
      prune: { type: "boolean", default: false },
      json: { type: "boolean", default: false },
      output: { type: "string", short: "o" },
      help: { type: "boolean", short: "h", default: false },
      "etcd-ca": { type: "string" },
      "etcd-cert": { type: "string" },
      "etcd-key": { type: "string" },
    },
  });
  if (values.help) return undefined;
  const [command, file, ...extra] = positionals;
  if (command !== "put" && command !== "get")
    throw new MeshUsageError(`expected put or get, got ${JSON.stringify(command ?? "")}`);
  if (!values.etcd) throw new MeshUsageError("--etcd is required (e.g. --etcd http://127.0.0.1:2379)");
  const etcd = values.etcd
    .split(",")
    .map((u) => u.trim())
    .filter(Boolean);
  for (const u of etcd)
    if (!/^https?:\/\/[^/]+$/.test(u))
      throw new MeshUsageError(`--etcd: expected URLs like http://127.0.0.1:2379, got ${JSON.stringify(u)}`);
  const tls = {
    ...(values["etcd-ca"] ? { caFile: values["etcd-ca"] } : {}),
    ...(values["etcd-cert"] ? { certFile: values["etcd-cert"] } : {}),
    ...(values["etcd-key"] ? { keyFile: values["etcd-key"] } : {}),
  };
  const prefix = checkPrefix(values.prefix ?? "/xdskit/");
  if (command === "put" && !file) throw new MeshUsageError("put needs the mesh file to load");
  if (command === "get" && file) throw new MeshUsageError(`get takes no file; write it with -o ${file}`);
  if (extra.length > 0) throw new MeshUsageError(`unexpected ${extra.join(" ")}`);
  return {
    command,
    file,
    etcd,
    prefix,
    prune: values.prune === true,
    json: values.json === true,
    output: values.output,
    tls,
  };
}
