#!/usr/bin/env node
// Command stage: the installed entry point. It runs the command line bundled into one file (dist/kspec.cjs, built
// by npm install with the rest of dist/), with the V8 code cache trained at build time (dist/cli/launch.cjs).
// CommonJS: an ES module entry would start Node's ES module loader, which costs ~5 ms of every run.
"use strict";
const { launch } = require("../dist/cli/launch.cjs");

const { main, codeCache } = launch();
if (process.env.KSPEC_STATS) process.stderr.write(`kspec-launch ${JSON.stringify({ codeCache })}\n`);
main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
