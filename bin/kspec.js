#!/usr/bin/env node
// Command stage: the installed entry point. It runs the command line bundled into one file (dist/kspec.cjs, built
// by npm install with the rest of dist/): loading one CommonJS file is ~25 ms faster than Node's ES module loader
// over kspec's modules one by one.
import { createRequire } from "node:module";

const { main } = createRequire(import.meta.url)("../dist/kspec.cjs");
process.exitCode = await main(process.argv.slice(2));
