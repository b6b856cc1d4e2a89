// Command stage: `kspec` — argument parsing, dispatch, and the mapping of outcomes to exit codes.
// Exit codes: 0 success/equal, 1 differs, 2 unverifiable or bad input, 3 internal error.

import { parseArgs } from "node:util";
import { InputError, SpecError, formatProblem } from "../spec/errors.js";
import type { Command } from "./command.js";
import { processIo, type Io } from "./io.js";
import { list } from "./commands/list.js";
import { evalCmd } from "./commands/eval.js";
import { explain } from "./commands/explain.js";
import { extractCmd } from "./commands/extract.js";
import { check } from "./commands/check.js";
import { gen } from "./commands/gen.js";
import { verifyPatch } from "./commands/verify-patch.js";
import { importCmd } from "./commands/import.js";
import { diffCmd } from "./commands/diff.js";
import { sync } from "./commands/sync.js";

export const COMMANDS: readonly Command[] = [
  list,
  evalCmd,
  explain,
  extractCmd,
  check,
  gen,
  verifyPatch,
  importCmd,
  diffCmd,
  sync,
];

function usage(): string {
  const w = Math.max(...COMMANDS.map((c) => c.name.length));
  return `kspec: KVM EPT memory-type policy as a TypeScript model, checked against kernel C

usage: kspec <command> [options]   (kspec <command> --help for one command)

${COMMANDS.map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`).join("\n")}

exit codes: 0 ok/equal, 1 differs, 2 unverifiable or bad input, 3 internal error
`;
}

function help(c: Command): string {
  const opts = Object.entries(c.options)
    .map(([k, o]) => `  --${k}${o.type === "string" ? " VALUE" : ""}${o.multiple ? " (repeatable)" : ""}`)
    .join("\n");
  return `usage: ${c.usage}\n\n${c.summary}\n\noptions:\n${opts}\n  --help\n${c.details ? `\n${c.details}\n` : ""}`;
}

export async function main(argv: readonly string[], io: Io = processIo): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    const c = name === "help" && rest[0] ? COMMANDS.find((x) => x.name === rest[0]) : undefined;
    io.out(c ? help(c) : usage());
    return 0;
  }
  const cmd = COMMANDS.find((c) => c.name === name);
  if (!cmd) {
    io.err(`kspec: unknown command '${name}' (commands: ${COMMANDS.map((c) => c.name).join(", ")})\n`);
    return 2;
  }
  try {
    if (rest.includes("--help") || rest.includes("-h")) {
      io.out(help(cmd));
      return 0;
    }
    let parsed;
    try {
      parsed = parseArgs({
        args: [...rest],
        options: cmd.options,
        allowPositionals: !!cmd.positionals,
        strict: true,
      });
    } catch (e) {
      throw new InputError(`${cmd.name}: ${(e as Error).message.split("\n")[0]}`);
    }
    const code = await cmd.run(parsed, io);
    if (process.env.KSPEC_STATS) {
      // For benchmarks: which files tree-sitter parsed, so that parsing them alone can be timed.
      const { parsedFiles } = await import("../kernel/parse.js");
      io.err(`kspec-stats ${JSON.stringify({ parsed: [...parsedFiles] })}\n`);
    }
    return code;
  } catch (e) {
    if (e instanceof SpecError) {
      for (const p of e.problems) io.err(formatProblem(p) + "\n");
      return 2;
    }
    if (e instanceof InputError) {
      io.err(`kspec: ${e.message}\n`);
      return 2;
    }
    io.err(`kspec: internal error: ${(e as Error).stack ?? String(e)}\n`);
    return 3;
  }
}
