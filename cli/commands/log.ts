// Command stage: `kspec log` — the commits of a git history after which a kernel function computes something
// else, with the rows that changed.

import { cubeToJson, formatCube, type Cube } from "../../spec/cubes.js";
import { InputError } from "../../spec/errors.js";
import { describeMask } from "../../spec/memtypes.js";
import { formatLiteral, parseConjunction, sortInputs } from "../../spec/vocabulary.js";
import { problemText } from "../../kernel/problems.js";
import { DEFAULT_FUNCTION } from "../../kernel/locate.js";
import { semanticLog, type LogEntry } from "../../checker/log.js";
import { str, type Command } from "../command.js";
import { json, paintWord } from "../io.js";
import { flagMacros } from "../kernel.js";
import { maskJson, type Condition, type LogJson } from "../json-types.js";
import type { InputValue } from "../../spec/ir.js";

const mask = maskJson;

export const logCmd: Command = {
  name: "log",
  summary: "the commits of a git history that changed what a kernel function computes, oldest first",
  usage:
    "kspec log [--kernel DIR] [--function F] [--flag F] [--when CONDITION] [--all] [--json] [REVISION-RANGE]",
  details: `DIR: a git work tree or bare repository (default: the current directory); nothing is checked out or written.
REVISION-RANGE: as git takes it (v6.1..v6.12, HEAD~50.., a single commit for its history); default HEAD.
Each commit after which the function's decision table changed is listed with the rows that changed, grouped as
kspec diff groups them; a commit after which it cannot be read (or can be again) is listed with the problem.
A commit is read again only when it changes, in a file the function's reading used (its own file, the headers
of its include closure, the directories searched for it), something that reading asked: the #include lines, the
definitions of a macro or helper it used, the function's own definition. Edits elsewhere carry the meaning over.
--when CONDITION: only changes for those inputs, e.g. "noncoherentDma cr0Cd !quirkCdNwCleared guestMtrr=WC".
--all: list every commit, those that leave the meaning unchanged too.
--json: { "function": {name, file}, "commits": [ { "commit", "subject", "change": "changed" | "unverifiable" |
        "verifiable" | "unchanged", "changes": [ { "when", "before": {mask, type, ipat}, "after": {...} } ],
        "problems": [...] } ] }
Exit: 0; 2 on bad input (not a repository, a bad range or condition).`,
  options: {
    kernel: { type: "string" },
    function: { type: "string" },
    flag: { type: "string" },
    when: { type: "string" },
    all: { type: "boolean" },
    json: { type: "boolean" },
  },
  optionHelp: {
    kernel: "a git work tree or bare repository (default: the current directory)",
    when: 'only changes for these inputs, e.g. "noncoherentDma !quirkCdNwCleared guestMtrr=WC"',
    all: "list the commits that leave the meaning unchanged too",
  },
  positionals: true,
  async run({ values, positionals }, io) {
    const dir = str(values, "kernel") ?? ".";
    const fn = str(values, "function") ?? DEFAULT_FUNCTION;
    const whenText = str(values, "when");
    let when;
    try {
      when = whenText === undefined ? undefined : parseConjunction(whenText);
    } catch (e) {
      throw new InputError(`--when: ${(e as Error).message}`);
    }
    const r = semanticLog(dir, positionals, {
      function: fn,
      flagMacros: await flagMacros(values),
      when,
      all: !!values.all,
      progress: io.progress,
    });
    const changes = (e: LogEntry) =>
      e.groups.flatMap((g) =>
        g.when.map((c) => ({
          when: { ...whenJson(when), ...cubeToJson(c) },
          before: mask(g.a.mask),
          after: mask(g.b.mask),
        })),
      );
    if (values.json) {
      io.out(
        json({
          function: { name: fn, file: r.fn?.file ?? null },
          commits: r.entries.map((e) => ({
            commit: e.commit,
            subject: e.subject,
            change: e.change,
            changes: changes(e),
            problems: e.problems,
          })),
        } satisfies LogJson),
      );
      return 0;
    }
    const listed = r.entries.filter((e) => e.change !== "unchanged").length;
    const range = positionals.length ? positionals.join(" ") : "HEAD";
    const cond = when
      ? ` for ${[...sortInputs(when.keys())].map((n) => formatLiteral(n, [when.get(n)!])).join(", ")}`
      : "";
    io.out(
      `${fn}()${r.fn ? ` in ${r.fn.file}` : ""}, ${range} (${r.walked} commits; ${r.extracted} states read, the base included): ${listed} changed what it computes${cond}\n`,
    );
    // The rows of a --when run are printed with the condition they are under, as the JSON has them.
    const within = (c: Cube): Cube =>
      new Map([...[...(when ?? [])].map(([k, v]) => [k, [v]] as [string, InputValue[]]), ...c]);
    for (const e of r.entries) {
      io.out(`\n${e.commit.slice(0, 12)} ${e.subject}\n`);
      if (e.change === "unchanged") io.out("  unchanged\n");
      else if (e.change === "verifiable")
        io.out(
          e.problems.length
            ? "  readable again (it was not before)\n"
            : "  the function from here on (the first commit)\n",
        );
      else if (e.change === "unverifiable")
        for (const p of e.problems) io.out(`  ${paintWord(io, "unverifiable")}: ${problemText(p)}\n`);
      else
        for (const g of e.groups)
          for (const c of g.when)
            io.out(
              `  when ${formatCube(within(c))}: ${describeMask(g.a.mask)} -> ${describeMask(g.b.mask)}\n`,
            );
    }
    return 0;
  },
};

function whenJson(when: ReadonlyMap<string, InputValue> | undefined): Condition {
  return when ? Object.fromEntries(sortInputs(when.keys()).map((k) => [k, when.get(k)!])) : {};
}
