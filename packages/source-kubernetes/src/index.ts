// Curated entry point of @xdskit/source-kubernetes. The prom-client gauges
// are in "@xdskit/source-kubernetes/prom"; a real API server for tests in
// "@xdskit/source-kubernetes/testing".
export { createKubernetesSource, loadKubeConfig } from "./source.js";
export type {
  KubernetesSource,
  KubernetesSourceEvents,
  KubernetesSourceOptions,
  KubernetesSourceStatus,
} from "./source.js";
export type { RejectedService } from "./cluster-model.js";
export { Reflector } from "./reflector.js";
export { rawLister } from "./raw-list.js";
export type { RawLister, RawListPage } from "./raw-list.js";
export type { KindSpec, ReflectorChange, ReflectorOptions, ReflectorStatus } from "./reflector.js";
export { hostOf, protocolOf, servicesFromCluster, spiffeIdOf } from "./mapping.js";
export type { ClusterObjects, MappingOptions } from "./mapping.js";
export { nodeIp, podNodePolicy } from "./identity.js";
export { serviceAccountTokenPolicy } from "./token-review.js";
export type { TokenAuthorizeRequest, TokenDecision, TokenIdentity, TokenPolicyOptions } from "./token-review.js";
export type { NodeAuthorizer, NodeDecision } from "./identity.js";
export { matchesSelector, parseSelector } from "./labels.js";
export type { Requirement } from "./labels.js";
