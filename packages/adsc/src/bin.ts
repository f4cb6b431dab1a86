#!/usr/bin/env node
import { runCli } from "./cli.js";

const code = await runCli(process.argv.slice(2));
// Let buffered output reach the pipe before leaving.
process.stdout.write("", () => process.exit(code));
