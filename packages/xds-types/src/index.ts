// Curated entry point of @xdskit/xds-types. Generated messages are imported
// from their own modules, e.g. "@xdskit/xds-types/gen/envoy/config/cluster/v3/cluster_pb".
// The full registry lives in "@xdskit/xds-types/registry" because it loads every file.
export { TYPE_URL_PREFIX, TypeUrl, typeNameOf, typeUrlOf } from "./type-url.js";
export type { KnownTypeUrl, ShortTypeName } from "./type-url.js";
export { XdsError, isXdsError } from "./errors.js";
export type { XdsErrorCode } from "./errors.js";
export { resourceTypes, findResourceType, defineResourceType } from "./resource-types.js";
export type { ResourceType } from "./resource-types.js";
export { packAny, unpackAny } from "./any.js";
export {
  ExtensionName,
  packHttpConnectionManager,
  unpackHttpConnectionManager,
  httpConnectionManagerFilter,
  routerHttpFilter,
  upstreamTlsTransportSocket,
  downstreamTlsTransportSocket,
  unpackUpstreamTlsContext,
  unpackDownstreamTlsContext,
} from "./extensions.js";
export { decodeResource, encodeResource } from "./decode.js";
export { silentLogger } from "./logger.js";
export type { Logger } from "./logger.js";
export { canonicalResourceName, inGlobCollection, isGlobCollection, parseXdstpName } from "./xdstp.js";
export type { XdstpName } from "./xdstp.js";
export { isEdsCluster, referencesOf } from "./references.js";
export type { Reference } from "./references.js";
export { assertJsonMetadata, isStructLiteral } from "./metadata.js";
export { quietIpServerNameWarnings } from "./warnings.js";
