#!/usr/bin/env node
// Command stage: the installed entry point. It runs the command line bundled into one file (dist/kspec.cjs, built
// by npm install with the rest of dist/), with the V8 code caches trained at build time (dist/cli/launch.cjs).
// CommonJS: an ES module entry would start Node's ES module loader, which costs ~5 ms of every run.
"use strict";
const { launch } = require("../dist/cli/launch.cjs");

const { main, compiled } = launch();
main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
  // Which code caches V8 used (KSPEC_STATS, as the benchmarks ask): "none" or "rejected" mean compiled anew.
  if (process.env.KSPEC_STATS)
    process.stderr.write(
      `kspec-launch ${JSON.stringify(Object.fromEntries(compiled.map((c) => [c.name, c.use])))}\n`,
    );
  // Done: end now rather than after Node has torn down all the run built (~2 ms), unless output is still on its
  // way (a pipe is written asynchronously on some systems).
  if (!process.stdout.writableLength && !process.stderr.writableLength) process.exit(code);
});
