#!/usr/bin/env node
// The `portcullis` binary: runs the compiled CLI (dist/ is built by `npm run build`,
// which `npm ci` / `npm install` run through the `prepare` script).
import { main } from "../dist/cli/main.js";

process.exitCode = await main(process.argv.slice(2));
