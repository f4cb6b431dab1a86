// Curated entry point of @xdskit/adsc: the ADS client library, CSDS and the load generator.
export { createAdsClient } from "./client.js";
export type { AdsClient, AdsClientEvents, AdsClientOptions, ReceivedUpdate } from "./client.js";
export { ResourceStore } from "./store.js";
export type { StoredResource } from "./store.js";
export { Backoff } from "./backoff.js";
export type { BackoffOptions } from "./backoff.js";
export { channelCredentials, parseTarget, probe, securityFromFiles } from "./credentials.js";
export type { ConnectionSecurity } from "./credentials.js";
export { fetchClientStatus } from "./csds.js";
export type { FetchClientStatusOptions } from "./csds.js";
export { runLoad } from "./load.js";
export type { LoadEvent, LoadPlan, RunningLoad } from "./load.js";
export { dumpConfig } from "./dump.js";
export type { ConfigDump, DumpOptions } from "./dump.js";
