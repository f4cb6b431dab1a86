// Curated entry point of @xdskit/admin.
export { createAdminHandler } from "./handler.js";
export type { AdminOptions, MetricsSource } from "./handler.js";
export { startAdminServer } from "./server.js";
export type { AdminServer, AdminServerOptions } from "./server.js";
export { assertSafeBind, isLoopback } from "./auth.js";
