// A throwaway PKI for tests, made with the openssl CLI in a temporary folder:
// CAs, server certificates for the loopback, and client certificates with
// SPIFFE URI SANs. Never use these keys for anything else.
import { execFileSync } from "node:child_process";
import { isIP } from "node:net";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

/** A certificate and its key, as files and contents. */
export interface CertFiles {
  readonly cert: string;
  readonly key: string;
  /** The PEM contents of `cert`, `key` (and, for a CA, the same as `cert`). */
  readonly certPem: string;
  readonly keyPem: string;
}

/** A test PKI rooted in a temporary folder. */
export interface TestPki {
  readonly dir: string;
  /** A self-signed CA. */
  ca(name: string): CertFiles;
  /** A server certificate for 127.0.0.1, localhost and any further names (DNS names or IP addresses), signed by `ca`. */
  server(ca: CertFiles, name: string, names?: readonly string[]): CertFiles;
  /** A client certificate with the given URI SANs (SPIFFE IDs), signed by `ca`. */
  client(ca: CertFiles, name: string, uris: readonly string[]): CertFiles;
  /** A workload certificate for both sides of a call (mesh mTLS): URI SANs and IP 127.0.0.1. */
  workload(ca: CertFiles, name: string, uris: readonly string[]): CertFiles;
  /** Removes the folder. */
  remove(): void;
}

function openssl(args: string[], cwd: string): void {
  try {
    execFileSync("openssl", args, { cwd, stdio: ["ignore", "ignore", "pipe"] });
  } catch (err) {
    const e = err as { code?: string; stderr?: Buffer };
    if (e.code === "ENOENT")
      throw new Error(
        "the tests make certificates with the openssl CLI; install openssl (Debian: apt-get install -y openssl)",
      );
    throw new Error(`openssl ${args[0]} failed: ${e.stderr?.toString() ?? String(err)}`);
  }
}

/** Creates a PKI in a new temporary folder. */
export function createTestPki(): TestPki {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "xdskit-pki-"));
  const files = (name: string): CertFiles => {
    const cert = path.join(dir, `${name}.crt`);
    const key = path.join(dir, `${name}.key`);
    return { cert, key, certPem: fs.readFileSync(cert, "utf8"), keyPem: fs.readFileSync(key, "utf8") };
  };
  const leaf = (ca: CertFiles, name: string, ext: string): CertFiles => {
    openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", `${name}.key`], dir);
    openssl(["req", "-new", "-key", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${name}`], dir);
    fs.writeFileSync(
      path.join(dir, `${name}.ext`),
      `${ext}\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n`,
    );
    openssl(
      [
        "x509",
        "-req",
        "-in",
        `${name}.csr`,
        "-CA",
        ca.cert,
        "-CAkey",
        ca.key,
        "-CAcreateserial",
        "-days",
        "2",
        "-out",
        `${name}.crt`,
        "-extfile",
        `${name}.ext`,
      ],
      dir,
    );
    return files(name);
  };
  return {
    dir,
    ca(name) {
      openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", `${name}.key`], dir);
      openssl(
        [
          "req",
          "-x509",
          "-new",
          "-key",
          `${name}.key`,
          "-out",
          `${name}.crt`,
          "-days",
          "2",
          "-subj",
          `/CN=${name}`,
          "-addext",
          "basicConstraints=critical,CA:TRUE",
          "-addext",
          "keyUsage=critical,keyCertSign,cRLSign",
        ],
        dir,
      );
      return files(name);
    },
    server: (ca, name, dnsNames = []) =>
      leaf(
        ca,
        name,
        `subjectAltName=IP:127.0.0.1,DNS:localhost${dnsNames.map((d) => `,${isIP(d) ? "IP" : "DNS"}:${d}`).join("")}\nextendedKeyUsage=serverAuth`,
      ),
    client: (ca, name, uris) =>
      leaf(
        ca,
        name,
        `subjectAltName=${uris.map((u) => `URI:${u}`).join(",") || `DNS:${name}`}\nextendedKeyUsage=clientAuth`,
      ),
    workload: (ca, name, uris) =>
      leaf(
        ca,
        name,
        `subjectAltName=${[...uris.map((u) => `URI:${u}`), "IP:127.0.0.1"].join(",")}\nextendedKeyUsage=serverAuth,clientAuth`,
      ),
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}
