// The mesh's certificate authority: an ECDSA P-256 root (or intermediate)
// from files, or one created for a test mesh, signing short-lived workload
// certificates (X.509 SVIDs) whose only name is the SPIFFE ID. Written with
// Node's own crypto (key generation, signing) and a small DER writer, so it
// needs no native or polyfilled dependency.
import {
  type KeyObject,
  X509Certificate,
  createHash,
  createPrivateKey,
  generateKeyPairSync,
  randomBytes,
  sign,
} from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { XdsError } from "@xdskit/xds-types";
import { bits, bool, children, type Der, explicit, int, octets, oid, seq, set, time, tlv, uint, utf8 } from "./der.js";

const ECDSA_SHA256 = seq(oid("1.2.840.10045.4.3.2"));
const SAN = "2.5.29.17";
const BASIC_CONSTRAINTS = "2.5.29.19";
const KEY_USAGE = "2.5.29.15";
const EXT_KEY_USAGE = "2.5.29.37";
const SUBJECT_KEY_ID = "2.5.29.14";
const AUTHORITY_KEY_ID = "2.5.29.35";

/** A certificate and its key as PEM. */
export interface IssuedCertificate {
  /** The leaf, then the CA's chain up to (not including) the root. */
  readonly certificateChainPem: string;
  /** PKCS#8. Never log it. */
  readonly privateKeyPem: string;
  /** The SPIFFE ID (the certificate's only SAN). */
  readonly spiffeId: string;
  /** Hex serial number. */
  readonly serial: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

const pem = (label: string, der: Uint8Array) =>
  `-----BEGIN ${label}-----\n${Buffer.from(der)
    .toString("base64")
    .replace(/.{64}/g, "$&\n")
    .replace(/\n?$/, "\n")}-----END ${label}-----\n`;

function extension(id: string, critical: boolean, value: Der): Der {
  return critical ? seq(oid(id), bool(true), octets(value)) : seq(oid(id), octets(value));
}

function keyId(spki: Uint8Array): Uint8Array {
  // The SHA-1 of the public key bits, as RFC 5280's method 1 has it (an identifier, not security).
  const key = children(spki)[1] as Uint8Array;
  return createHash("sha1").update(key.subarray(3)).digest();
}

function name(commonName: string, organization: string): Der {
  return seq(set(seq(oid("2.5.4.10"), utf8(organization))), set(seq(oid("2.5.4.3"), utf8(commonName))));
}

interface Signer {
  readonly subject: Der;
  readonly key: KeyObject;
  readonly keyId: Uint8Array;
}

function certificate(options: {
  serial: Uint8Array;
  issuer: Der;
  subject: Der;
  notBefore: Date;
  notAfter: Date;
  spki: Uint8Array;
  extensions: Der[];
  signingKey: KeyObject;
}): Uint8Array {
  const tbs = seq(
    explicit(0, int(2)),
    uint(options.serial),
    ECDSA_SHA256,
    options.issuer,
    seq(time(options.notBefore), time(options.notAfter)),
    options.subject,
    options.spki,
    explicit(3, seq(...options.extensions)),
  );
  const signature = sign("sha256", tbs, { key: options.signingKey, dsaEncoding: "der" });
  return seq(tbs, ECDSA_SHA256, bits(signature));
}

/** Options of {@link MeshCa.issue}. */
export interface IssueOptions {
  /** How long the certificate is valid. */
  readonly ttlMs: number;
  /** Allowed clock skew: notBefore is set this far back. Default 60 s. */
  readonly backdateMs?: number;
}

/** A certificate authority that signs workload certificates. */
export class MeshCa {
  readonly #signer: Signer;
  /** The CA's certificate, PEM. */
  readonly certificatePem: string;
  /** The roots clients should trust (the root of the chain), PEM. */
  readonly rootPem: string;
  /** The chain sent after each leaf (the CA's certificate when it is an intermediate), PEM. */
  readonly chainPem: string;
  readonly trustDomain: string;
  /** When the CA's own certificate expires. */
  readonly notAfter: Date;

  private constructor(trustDomain: string, certPem: string, key: KeyObject, rootPem: string, chainPem: string) {
    const cert = new X509Certificate(certPem);
    if (!cert.ca)
      throw new XdsError("invalid_config", "the CA certificate is not a CA (basicConstraints CA:TRUE is missing)");
    if (!cert.checkPrivateKey(key))
      throw new XdsError("invalid_config", "the CA key does not belong to the CA certificate");
    if (key.asymmetricKeyType !== "ec")
      throw new XdsError("invalid_config", `the CA key must be an EC key (P-256), got ${key.asymmetricKeyType}`);
    const tbs = children(cert.raw)[0] as Uint8Array;
    const fields = children(tbs);
    // version [0], serial, algorithm, issuer, validity, subject, spki …
    const subject = fields[5] as Uint8Array;
    const spki = fields[6] as Uint8Array;
    this.#signer = { subject, key, keyId: keyId(spki) };
    this.certificatePem = certPem;
    this.rootPem = rootPem;
    this.chainPem = chainPem;
    this.trustDomain = trustDomain;
    this.notAfter = new Date(cert.validTo);
  }

  /**
   * A CA from files: its certificate and EC private key (PEM), and — for an
   * intermediate — the root (`rootFile`) clients trust; the intermediate is
   * then sent with every leaf.
   */
  static fromFiles(options: { certFile: string; keyFile: string; rootFile?: string; trustDomain: string }): MeshCa {
    const certPem = fs.readFileSync(options.certFile, "utf8");
    const key = createPrivateKey(fs.readFileSync(options.keyFile));
    const rootPem = options.rootFile ? fs.readFileSync(options.rootFile, "utf8") : certPem;
    return new MeshCa(options.trustDomain, certPem, key, rootPem, options.rootFile ? certPem : "");
  }

  /**
   * A new self-signed root for a test mesh (valid `ttlMs`, default a year);
   * written to `dir` as `root-cert.pem` and `root-key.pem` (mode 0600) when given.
   */
  static create(options: { trustDomain: string; dir?: string; ttlMs?: number }): MeshCa {
    const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const spki = publicKey.export({ type: "spki", format: "der" });
    const subject = name(`xdskit mesh CA ${options.trustDomain}`, options.trustDomain);
    const now = Date.now();
    const der = certificate({
      serial: randomBytes(16),
      issuer: subject,
      subject,
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + (options.ttlMs ?? 365 * 24 * 3600_000)),
      spki,
      extensions: [
        extension(BASIC_CONSTRAINTS, true, seq(bool(true))),
        extension(KEY_USAGE, true, tlv(0x03, Uint8Array.of(1, 0x06))), // keyCertSign, cRLSign
        extension(SUBJECT_KEY_ID, false, octets(keyId(spki))),
      ],
      signingKey: privateKey,
    });
    const certPem = pem("CERTIFICATE", der);
    if (options.dir) {
      fs.mkdirSync(options.dir, { recursive: true });
      fs.writeFileSync(path.join(options.dir, "root-cert.pem"), certPem);
      fs.writeFileSync(path.join(options.dir, "root-key.pem"), privateKey.export({ type: "pkcs8", format: "pem" }), {
        mode: 0o600,
      });
    }
    return new MeshCa(options.trustDomain, certPem, privateKey, certPem, "");
  }

  /** The SPIFFE ID of a service account: `spiffe://<trust domain>/ns/<namespace>/sa/<account>`. */
  spiffeId(namespace: string, serviceAccount: string): string {
    return `spiffe://${this.trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
  }

  /** Signs a new key pair's certificate for one SPIFFE ID (usable as client and server). */
  issue(spiffeId: string, options: IssueOptions): IssuedCertificate {
    if (!spiffeId.startsWith(`spiffe://${this.trustDomain}/`))
      throw new XdsError("invalid_argument", `${spiffeId} is not in the trust domain ${this.trustDomain}`);
    const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const spki = publicKey.export({ type: "spki", format: "der" });
    const serial = randomBytes(16);
    serial[0] = (serial[0] ?? 0) & 0x7f;
    const now = Date.now();
    const notBefore = new Date(now - (options.backdateMs ?? 60_000));
    const notAfter = new Date(Math.min(now + options.ttlMs, this.notAfter.getTime()));
    const der = certificate({
      serial,
      issuer: this.#signer.subject,
      // An empty subject, as SPIFFE's X.509-SVID allows: the SAN is the identity (critical then).
      subject: seq(),
      notBefore,
      notAfter,
      spki,
      extensions: [
        extension(BASIC_CONSTRAINTS, true, seq()),
        extension(KEY_USAGE, true, tlv(0x03, Uint8Array.of(5, 0xa0))), // digitalSignature, keyEncipherment
        extension(EXT_KEY_USAGE, false, seq(oid("1.3.6.1.5.5.7.3.1"), oid("1.3.6.1.5.5.7.3.2"))),
        extension(SUBJECT_KEY_ID, false, octets(keyId(spki))),
        extension(AUTHORITY_KEY_ID, false, seq(tlv(0x80, this.#signer.keyId))),
        extension(SAN, true, seq(tlv(0x86, Buffer.from(spiffeId, "utf8")))),
      ],
      signingKey: this.#signer.key,
    });
    return {
      certificateChainPem: pem("CERTIFICATE", der) + this.chainPem,
      privateKeyPem: privateKey.export({ type: "pkcs8", format: "pem" }) as string,
      spiffeId,
      serial: Buffer.from(serial).toString("hex"),
      notBefore,
      notAfter,
    };
  }
}
