// Docs stage: writes the reference pages of docs/ from the code that holds their facts — the memory types, the
// mask encoding and the SDM table (spec/memtypes), the hazard catalogue (spec/hazards), every command and option
// (the commands' own definitions), and the JSON Schemas of the --json outputs (scripts/schemas). CI runs it and
// fails when the checked-in pages differ: a page cannot drift from what kspec does.
// Usage: node dist/scripts/docs.js [DIR]   (default: docs)

import { join } from "node:path";
import { writeFileAtomic } from "../cli/io.js";
import { commands } from "../cli/main.js";
import { COMMON_HELP, optionLines } from "../cli/options.js";
import { HAZARDS, HAZARDS_DOC } from "../spec/hazards.js";
import {
  EFFECTIVE_TYPE,
  EPT_TYPES,
  PAT_TYPES,
  RESERVED_CODES,
  PAT_ONLY_CODES,
  TYPE_CODE,
  VMX_EPT_IPAT_SHIFT,
  VMX_EPT_MT_EPTE_SHIFT,
  describeMask,
  encodeMask,
} from "../spec/memtypes.js";
import { ROOT } from "../spec/root.js";
import { FAMILIES, VOCABULARY } from "../spec/vocabulary.js";
import { writeSchemas } from "./schemas.js";

const out = process.argv[2] ?? join(ROOT, "docs");
const GENERATED =
  "<!-- Written by `npm run docs` (scripts/docs.ts) from kspec's code; edit the code, not this page. -->";

function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  return [
    `| ${head.join(" | ")} |`,
    `|${head.map(() => "---").join("|")}|`,
    ...rows.map((r) => `| ${r.join(" | ")} |`),
  ].join("\n");
}

function memoryTypes(): string {
  const codes = Object.entries(TYPE_CODE).sort((a, b) => a[1] - b[1]);
  const masks = EPT_TYPES.flatMap((t) =>
    [false, true].map((ipat) => describeMask(encodeMask(TYPE_CODE[t], ipat))),
  );
  return `${GENERATED}

# Memory types, the EPT mask and the SDM table

## Codes

MTRRs, PAT and EPT leaf entries share one encoding of memory types:

${table(
  ["code", "type", "where it is valid"],
  codes.map(([t, c]) => [
    String(c),
    t,
    PAT_ONLY_CODES.includes(c) ? "PAT only (UC minus)" : "MTRR, PAT, EPT",
  ]),
)}

Codes ${RESERVED_CODES.join(" and ")} are reserved everywhere. A reserved or PAT-only code in an EPT entry is an EPT
misconfiguration (hazard 8 of [hazards.md](hazards.md)).

## The mask vmx_get_mt_mask() returns

Bits ${VMX_EPT_MT_EPTE_SHIFT + 2}:${VMX_EPT_MT_EPTE_SHIFT} hold the EPT memory type (\`VMX_EPT_MT_EPTE_SHIFT\` = ${VMX_EPT_MT_EPTE_SHIFT}); bit ${VMX_EPT_IPAT_SHIFT} is IPAT,
"ignore PAT" (\`VMX_EPT_IPAT_BIT\`). kspec writes a mask as the way a KVM developer reads it:

${masks.map((m) => `- ${m}`).join("\n")}

With IPAT set, the EPT type is the effective type of every guest access, whatever the guest's PAT says. With
IPAT clear, the EPT type combines with the guest's PAT type as an MTRR type combines with PAT.

## Effective type (IPAT clear): EPT type x guest PAT type

The Intel SDM, Vol. 3A, "Effective Page-Level Memory Type": the EPT type stands where the MTRR type stands.
Host MTRRs never apply to guest-physical accesses. Rows: the EPT type; columns: the guest's PAT type.

${table(
  ["EPT \\ PAT", ...PAT_TYPES],
  EPT_TYPES.map((e) => [e, ...PAT_TYPES.map((p) => EFFECTIVE_TYPE[e][p])]),
)}

So guest PAT WC always gives WC; EPT WB with IPAT clear gives the guest's PAT type (UC- becomes UC); EPT UC
gives UC unless the guest's PAT is WC; WB|IPAT always gives WB. \`kspec explain\` prints this row for every
scenario of a policy.

## Inputs

The inputs a policy may read, and the C that kspec recognises for each:

${table(
  ["input", "values", "what it is"],
  VOCABULARY.map((d) => [`\`${d.name}\``, d.kind === "bool" ? "true, false" : d.domain.join(", "), d.doc]),
)}

Families, for any macro the tree defines: ${FAMILIES.map((f) => `\`${f.prefix}${f.macroPrefix}X\` (${f.calls.map((c) => `${c}()`).join(", ")})`).join("; ")}; and \`config:CONFIG_X\` (an \`#ifdef\` or \`IS_ENABLED()\` in the function). A named input above
that tests one macro of a family is also known by the family name (\`quirk:KVM_X86_QUIRK_CD_NW_CLEARED\` is
\`quirkCdNwCleared\`). A project adds its own inputs, bound to C, in kspec.config.json (see [commands.md](commands.md)).
`;
}

function hazards(): string {
  return `${GENERATED}

# Hazards

What can go wrong with the memory type KVM gives a guest page. \`kspec explain\`, \`kspec check\` and the cover letters
of \`kspec gen\` cite this page (${HAZARDS_DOC}) by number: a hazard a decision table can show is listed with the
rows that show it; the others are properties of KVM's other code paths or of userspace, named here so that a
review does not forget them.

${HAZARDS.map(
  (h) => `## ${h.domain}. ${h.id}

${h.title[0].toUpperCase()}${h.title.slice(1)}.

${h.why}

${h.check ? `Shown by a table: kspec looks at ${h.check.inputs.length ? h.check.inputs.map((i) => `\`${i}\``).join(", ") : "the mask alone"}.` : "Not shown by a decision table."}`,
).join("\n\n")}
`;
}

async function commandsPage(): Promise<string> {
  const all = await commands();
  return `${GENERATED}

# Commands

Every command takes \`--config FILE\` (kspec.config.json is otherwise looked for from the current directory
upwards) and \`--help\`. \`kspec --version\` (\`-V\`) prints the version. Exit codes: 0 ok or equal, 1 differs,
2 unverifiable or bad input, 3 internal error.

Options several commands share: ${Object.entries(COMMON_HELP)
    .filter(([k]) => k !== "help")
    .map(([k, v]) => `\`--${k}\`: ${v}`)
    .join("; ")}.

## Environment

- \`KSPEC_CACHE\`: where extractions are kept between runs (default \`$XDG_CACHE_HOME/kspec\`, else
  \`~/.cache/kspec\`); \`off\` keeps none. An entry is used only when every file it read is unchanged.
- \`NO_COLOR\` (set and not empty) or \`TERM=dumb\`: no colour. Colour marks the verdicts and findings a reader
  must look at, and only when standard output is a terminal: differs, error findings and NOT BISECTABLE in red;
  unverifiable, warnings and NOT CHECKED in yellow. kspec's own one-line errors on standard error stay plain.
- \`KSPEC_PROGRESS_AFTER_MS\`: progress lines (standard error, a terminal only, never with --json or --sarif)
  start once a run has lasted this long (default 1000; 0 from the first step).

${all
  .map(
    (c) => `## kspec ${c.name}

${c.summary[0].toUpperCase()}${c.summary.slice(1)}.

\`\`\`
${c.usage}
\`\`\`

${optionLines({ ...c.options, config: { type: "string" } }, c.optionHelp)
  .map((l) => `- ${l.trim().replace(/^(\S+( VALUE)?( \(repeatable\))?)\s+/, "`$1`: ")}`)
  .join("\n")}
${c.details ? `\n\`\`\`\n${c.details}\n\`\`\`\n` : ""}`,
  )
  .join("\n")}`;
}

writeFileAtomic(join(out, "memory-types.md"), memoryTypes());
writeFileAtomic(join(out, "hazards.md"), hazards());
writeFileAtomic(join(out, "commands.md"), await commandsPage());
await writeSchemas(join(out, "schemas"));
