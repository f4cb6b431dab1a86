// Curated entry point of @xdskit/ads-server. The prom-client adapter is in
// "@xdskit/ads-server/prom" so that hosts without prom-client load nothing of it.
export { createAdsServer } from "./server.js";
export type { AdsServer, AdsServerOptions, KeepaliveOptions, SendBudgetStatus } from "./server.js";
export type { AdsServerEvents, ConnectionRef } from "./events.js";
export type { AdsMetrics } from "./metrics.js";
export type { ConnectionInfo, ConnectionRegistry, TypeStatus } from "./connection-registry.js";
export type { NackRecord } from "./type-state.js";
export { rawServiceDefinition } from "./codec.js";
export { tlsServerCredentials } from "./tls.js";
export type { TlsServerOptions } from "./tls.js";
export { identityFromCertificate } from "./identity.js";
export { DEFAULT_HEAP_GROWTH_PERCENT, tuneHeapGrowth } from "./heap-growth.js";
export type { PeerIdentity } from "./identity.js";
export { nodeNamespace, parseSpiffeId, secretsByNamespace, spiffeNodePolicy } from "./authorization.js";
export type {
  AuthorizeRequest,
  AuthorizeResult,
  Authorizer,
  ResourceAuthorizeRequest,
  ResourceAuthorizer,
  SpiffeParts,
} from "./authorization.js";
