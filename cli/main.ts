// Command stage: `kspec` — argument parsing, dispatch, and the mapping of outcomes to exit codes.
// Exit codes: 0 success/equal, 1 differs, 2 unverifiable or bad input, 3 internal error.

import { parseArgs } from "node:util";
import { InputError, SpecError, formatProblem } from "../spec/errors.js";
import type { Command } from "./command.js";
import { processIo, quiet, type Io } from "./io.js";
import { optionLines } from "./options.js";
import { didYouMean } from "../spec/suggest.js";
import { configFile, loadConfig, useConfig } from "../spec/config.js";

/**
 * The commands, each loaded when it runs: a command pays only for the modules it needs (check never loads the
 * generator's templates, the patch reader or the TypeScript parser).
 */
const LOADERS: Readonly<Record<string, () => Promise<Command>>> = {
  list: async () => (await import("./commands/list.js")).list,
  eval: async () => (await import("./commands/eval.js")).evalCmd,
  explain: async () => (await import("./commands/explain.js")).explain,
  extract: async () => (await import("./commands/extract.js")).extractCmd,
  check: async () => (await import("./commands/check.js")).check,
  gen: async () => (await import("./commands/gen.js")).gen,
  "verify-patch": async () => (await import("./commands/verify-patch.js")).verifyPatch,
  import: async () => (await import("./commands/import.js")).importCmd,
  diff: async () => (await import("./commands/diff.js")).diffCmd,
  sync: async () => (await import("./commands/sync.js")).sync,
  log: async () => (await import("./commands/log.js")).logCmd,
  init: async () => (await import("./commands/init.js")).init,
};

/** For the installed command's launcher (cli/launch.cts), which loads packages with a code cache. */
export { setPackageLoader } from "../spec/packages.js";

export const COMMAND_NAMES: readonly string[] = Object.keys(LOADERS);

/** Every command (for --help and documentation). */
export async function commands(): Promise<Command[]> {
  return Promise.all(COMMAND_NAMES.map((n) => LOADERS[n]()));
}

function usage(all: readonly Command[]): string {
  const w = Math.max(...all.map((c) => c.name.length));
  return `kspec: KVM EPT memory-type policy as a TypeScript model, checked against kernel C

usage: kspec <command> [options]   (kspec <command> --help for one command)

${all.map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`).join("\n")}

exit codes: 0 ok/equal, 1 differs, 2 unverifiable or bad input, 3 internal error
`;
}

/** Every command takes --config (the config can change inputs, spellings and policy names). */
function optionsOf(c: Command): Command["options"] {
  return { ...c.options, config: { type: "string" } };
}

export function help(c: Command): string {
  const opts = optionLines(optionsOf(c), c.optionHelp).join("\n");
  return `usage: ${c.usage}\n\n${c.summary}\n\noptions:\n${opts}\n${c.details ? `\n${c.details}\n` : ""}`;
}

export async function main(argv: readonly string[], io: Io = processIo): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    const c = name === "help" && rest[0] && LOADERS[rest[0]] ? await LOADERS[rest[0]]() : undefined;
    io.out(c ? help(c) : usage(await commands()));
    return 0;
  }
  if (name === "--version" || name === "-V") {
    io.out(`kspec ${(await import("./version.js")).VERSION}\n`);
    return 0;
  }
  if (!Object.hasOwn(LOADERS, name)) {
    io.err(
      `kspec: unknown ${name.startsWith("-") ? "option" : "command"} '${name}'${didYouMean(name, COMMAND_NAMES)} (commands: ${COMMAND_NAMES.join(", ")})\n`,
    );
    return 2;
  }
  const cmd = await LOADERS[name]();
  try {
    if (rest.includes("--help") || rest.includes("-h")) {
      io.out(help(cmd));
      return 0;
    }
    let parsed;
    try {
      parsed = parseArgs({
        args: [...rest],
        options: optionsOf(cmd),
        allowPositionals: !!cmd.positionals,
        strict: true,
      });
    } catch (e) {
      // Node adds advice on '--' that reads oddly in one line; a -N is git log's count, which kspec log does not take.
      const msg = (e as Error).message
        .split("\n")[0]
        .replace(/\. To specify a positional argument starting with a '-'.*$/, "")
        .replace(
          /^(Unknown option '-(\d+)')$/,
          cmd.name === "log" ? "$1: give a revision range (HEAD~$2..HEAD)" : "$1",
        );
      const unknown = /Unknown option '--?([^']+)'/.exec(msg)?.[1];
      const hint = unknown
        ? didYouMean(unknown, Object.keys(optionsOf(cmd))).replace(/mean (\S)/, "mean --$1")
        : "";
      throw new InputError(`${cmd.name}: ${msg}${hint}`);
    }
    if (!cmd.writesConfig)
      await useConfigOf(typeof parsed.values.config === "string" ? parsed.values.config : undefined);
    // Tools read --json and --sarif output: no progress lines beside it, not even on standard error.
    const code = await cmd.run(parsed, parsed.values.json || parsed.values.sarif ? quiet(io) : io);
    io.done();
    if (process.env.KSPEC_STATS) {
      // For benchmarks: which files tree-sitter parsed, so that parsing them alone can be timed.
      const { parsedFiles } = await import("../kernel/parse.js");
      const { cacheStats } = await import("../checker/cache.js");
      io.err(`kspec-stats ${JSON.stringify({ parsed: [...parsedFiles], cache: cacheStats })}\n`);
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

/**
 * The config of this run: --config FILE, else kspec.config.json from the current directory upwards. Its C
 * shapes must parse (file:line:col otherwise); a config that is only `pairs` is left to kspec sync.
 */
async function useConfigOf(explicit: string | undefined): Promise<void> {
  const file = configFile(explicit, process.cwd());
  if (!file) return;
  const { isBuiltinInput } = await import("../spec/vocabulary.js");
  const config = loadConfig(file, isBuiltinInput);
  if (config.inputs.length || config.spellings.size) {
    const { configShapes } = await import("../checker/shapes.js");
    const { problems } = configShapes(config);
    if (problems.length) throw new SpecError(problems);
  }
  useConfig(config);
}
