// Curated entry point of @xdskit/admin.
export { createAdminHandler } from "./handler.js";
export type { AdminHandler, AdminOptions, MetricsSource } from "./handler.js";
export type { SourceInfo } from "./pages.js";
export { syncz, synczText } from "./syncz.js";
export type { SyncStatus } from "./syncz.js";
export type { NackSample } from "./activity.js";
export { startAdminServer } from "./server.js";
export type { AdminServer, AdminServerOptions } from "./server.js";
export { assertSafeBind, isLoopback } from "./auth.js";
