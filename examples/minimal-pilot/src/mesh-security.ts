// The mesh's own security in minimal-pilot (--mesh-ca): the CA, workload
// certificates over SDS for the identities sidecars prove, and who may
// receive which secret.
import fs from "node:fs";
import path from "node:path";
import { type ResourceAuthorizer, secretsByNamespace } from "@xdskit/ads-server";
import type { DefaultConfigGenerator } from "@xdskit/config-generator";
import { MeshCa, WorkloadCertificates, workloadSecretsPolicy } from "@xdskit/mesh-ca";
import { TypeUrl } from "@xdskit/xds-types";
import type { PilotOptions } from "./options.js";

/** What --mesh-ca adds to the pilot. */
export interface MeshSecurity {
  readonly certificates: WorkloadCertificates | undefined;
  /** The ADS per-resource authorization of secrets. */
  readonly authorizeResource: ResourceAuthorizer;
  /** The controller's `mtls` option. */
  readonly mtls: { readonly trustDomain: string } | undefined;
  close(): void;
}

/** Opens the mesh CA (creating it when the folder has none) and registers the workload certificates' builder. */
export function openMeshSecurity(o: PilotOptions, generator: DefaultConfigGenerator): MeshSecurity {
  if (!o.meshCa)
    return { certificates: undefined, authorizeResource: secretsByNamespace, mtls: undefined, close: () => {} };
  const { dir, ttlMs } = o.meshCa;
  const certFile = path.join(dir, "root-cert.pem");
  const keyFile = path.join(dir, "root-key.pem");
  const ca = fs.existsSync(certFile)
    ? MeshCa.fromFiles({ certFile, keyFile, trustDomain: o.trustDomain })
    : MeshCa.create({ trustDomain: o.trustDomain, dir });
  const certificates = new WorkloadCertificates({ ca, ttlMs });
  generator.registerBuilder(TypeUrl.Secret, certificates.builder, { workloadKey: certificates.keyOf });
  console.log(
    `mesh CA: ${certFile} (trust domain ${o.trustDomain}, until ${ca.notAfter.toISOString()}); workload certificates for ${ttlMs / 1000} s, rotated at half`,
  );
  return {
    certificates,
    authorizeResource: workloadSecretsPolicy(ca, secretsByNamespace),
    mtls: { trustDomain: o.trustDomain },
    close: () => certificates.close(),
  };
}
