// Test helpers for hosts and for xdskit's own packages: a raw ADS client, an
// echo backend, a CSDS client, a loopback server harness and clients that never read.
export { RawBidi, RawDeltaStream, RawStream, rawClient, testNode } from "./raw-client.js";
export { startEcho, callEcho, bootstrap, ECHO_PATH } from "./echo.js";
export { fetchClientStatus } from "./csds-client.js";
export { startServer } from "./harness.js";
export { openStuckStreams } from "./stuck-client.js";
export type { StuckStreamOptions, StuckStreams } from "./stuck-client.js";
export { createTestPki } from "./certs.js";
export type { CertFiles, TestPki } from "./certs.js";
