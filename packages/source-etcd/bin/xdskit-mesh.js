#!/usr/bin/env node
// The xdskit-mesh command. Committed (not built) so that npm links it when it
// installs the package — in a fresh clone, before the first build — and it
// runs the built CLI.
import("../dist/cli.js").then(
  async ({ runMeshCli }) => {
    const code = await runMeshCli(process.argv.slice(2));
    process.stdout.write("", () => process.exit(code));
  },
  (err) => {
    if (err && err.code === "ERR_MODULE_NOT_FOUND") {
      console.error("xdskit-mesh: the CLI is not built yet; run `npm run build` (or `npm start`) first");
      process.exit(2);
    }
    throw err;
  },
);
