// Curated entry point of @xdskit/config-generator.
export type {
  ChangeKind,
  EndpointHealth,
  Gateway,
  Labels,
  Locality,
  MeshConfig,
  Metadata,
  Subset,
  PortProtocol,
  RouteFault,
  RouteRetries,
  RouteRule,
  Service,
  ServiceEndpoint,
  ServicePort,
  WeightedDestination,
  GatewayTls,
} from "./model.js";
export type {
  ConnectionMatch,
  CorsPolicy,
  HeaderOperations,
  RouteMatch,
  RouteMirror,
  RouteRedirect,
  RouteRewrite,
  SidecarIngress,
  SidecarScope,
  StringMatch,
  TcpRoute,
} from "./model-routing.js";
export type {
  AccessCondition,
  AccessOperation,
  AccessPolicy,
  AccessRule,
  AccessSource,
  MtlsMode,
  PeerAuthenticationPolicy,
} from "./model-security.js";
export { accessPoliciesOf, mtlsModeOf } from "./push-security.js";
export type { SecurityPolicies } from "./push-security.js";
export type {
  AuthorizationRule,
  CircuitBreaker,
  DnsTarget,
  LoadBalancer,
  LoadBalancingPolicy,
  LocalityFailover,
  OutlierDetection,
  ServiceTls,
  DestinationPolicy,
  TrafficPolicy,
  UpstreamTls,
} from "./policy.js";
export { proxyFromNode, defaultNodeGroup } from "./proxy.js";
export { groupKeyOf, groupView } from "./group-view.js";
export type { GroupBy } from "./group-view.js";
export type { Proxy, ProxyKind } from "./proxy.js";
export { PushContext } from "./push-context.js";
export type {
  ConfigStore,
  ServiceRegistry,
  SourceChange,
  SourceEmitter,
  SourceEvents,
  SourceStatus,
} from "./sources.js";
export { createMemorySource } from "./memory-source.js";
export type { MemorySource } from "./memory-source.js";
export { createFileSource } from "./file-source.js";
export type { FileSource, FileSourceOptions } from "./file-source.js";
export { parseGatewayEntry, parseMeshFile, parseRouteEntries, parseServiceEntry } from "./mesh-file.js";
export type { MeshFile } from "./mesh-file.js";
export { createAggregateConfig, createAggregateRegistry } from "./aggregate.js";
export type { AggregateConfig, AggregateRegistry } from "./aggregate.js";
export { createSecretsDirSource } from "./secrets-dir.js";
export type { SecretsDirSource } from "./secrets-dir.js";
export { validateReferences, validateRoute, validateService } from "./validate-model.js";
export {
  DefaultConfigGenerator,
  clusterName,
  parseClusterName,
  subsetClusterName,
  typesTouchedBy,
} from "./generator.js";
export type { BuildContext, BuilderOptions, ClusterOrigin, ConfigGenerator, ResourceBuilder } from "./generator.js";
export type { ClusterNameParts } from "./builders/common.js";
export { circuitBreakersMessage, outlierDetectionMessage } from "./policy-messages.js";
export { createPushQueue } from "./push-queue.js";
export type { PushQueue, PushQueueOptions, PushRequest } from "./push-queue.js";
export { createDiscoveryController } from "./controller.js";
export type { ControllerEvents, DiscoveryController, DiscoveryControllerOptions, PushRecord } from "./controller.js";
