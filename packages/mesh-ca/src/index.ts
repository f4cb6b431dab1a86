// @xdskit/mesh-ca: the mesh's certificate authority and the workload
// certificates it serves over SDS.
export { MeshCa } from "./ca.js";
export type { IssueOptions, IssuedCertificate } from "./ca.js";
export { ROOT_SECRET, WORKLOAD_SECRET, WorkloadCertificates } from "./workload-certs.js";
export type { CertificateInfo, WorkloadCertificatesOptions } from "./workload-certs.js";
export { workloadSecretsPolicy } from "./policy.js";
