#!/usr/bin/env node
// The xdskit-adsc command. This file is committed (not built) so that npm
// links the command when it installs the package — in a fresh clone that is
// before the first build — and it runs the built CLI.
import("../dist/cli.js").then(
  async ({ runCli }) => {
    const code = await runCli(process.argv.slice(2));
    // Let buffered output reach the pipe before leaving.
    process.stdout.write("", () => process.exit(code));
  },
  (err) => {
    if (err && err.code === "ERR_MODULE_NOT_FOUND") {
      console.error("xdskit-adsc: the CLI is not built yet; run `npm run build` (or `npm start`) first");
      process.exit(2);
    }
    throw err;
  },
);
