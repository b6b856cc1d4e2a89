#!/usr/bin/env node
// Command stage: the installed entry point. It runs the command line bundled into one file (dist/kspec.cjs, built
// by npm install with the rest of dist/), with the V8 code caches trained at build time (dist/cli/launch.cjs).
// CommonJS: an ES module entry would start Node's ES module loader, which costs ~5 ms of every run.
"use strict";
const { writeSync } = require("node:fs");
const { launch } = require("../dist/cli/launch.cjs");

const { main, compiled } = launch();
main(process.argv.slice(2)).then((code) => {
  // Which code caches V8 used (KSPEC_STATS, as the benchmarks ask): "none" or "rejected" mean compiled anew.
  if (process.env.KSPEC_STATS)
    writeSync(
      2,
      `kspec-launch ${JSON.stringify(Object.fromEntries(compiled.map((c) => [c.name, c.use])))}\n`,
    );
  // Done, and every line written (kspec writes its output synchronously): end now rather than after Node has torn
  // down all the run built (~2 ms).
  process.exit(code);
});
