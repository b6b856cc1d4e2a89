// Command stage: `kspec list` — the built-in policies, proposals and memslot-flag specs, one line each.

import type { Command } from "../command.js";
import { join, relative } from "node:path";
import { activeConfig } from "../../spec/config.js";
import { SpecError } from "../../spec/errors.js";
import { builtinNames, loadPart, POLICY_DIR } from "../../spec/resolve.js";
import { builtinFlags } from "../../spec/flags.js";
import { json, table } from "../io.js";
import type { ListJson } from "../json-types.js";

export const list: Command = {
  name: "list",
  summary: "policies and proposals (the config's, then the built-ins), and memslot-flag specs, one line each",
  usage: "kspec list [--json]",
  options: { json: { type: "boolean" } },
  async run({ values }, io) {
    const rows: ListJson["items"] = [];
    // The config's policies directories come first, as --policy NAME looks there first; a name found there
    // shadows a built-in of the same name.
    const listed = new Set<string>();
    for (const dir of [...activeConfig().policies, POLICY_DIR]) {
      const mine = dir !== POLICY_DIR;
      for (const name of builtinNames(dir)) {
        if (listed.has(name)) continue;
        listed.add(name);
        const file = mine ? { file: relative(process.cwd(), join(dir, `${name}.ts`)) } : {};
        try {
          const part = await loadPart(name);
          if (part.kind === "policy")
            rows.push({ kind: "policy", name, summary: part.policy.summary ?? part.policy.source, ...file });
          else
            rows.push({
              kind: "proposal",
              name,
              summary: part.proposal.summary ?? part.proposal.source,
              ...file,
            });
        } catch (e) {
          if (!(e instanceof SpecError)) throw e;
          const n = e.problems.length;
          rows.push({
            kind: "policy",
            name,
            summary: `does not load: ${n} problem${n === 1 ? "" : "s"} (kspec eval --policy ${name} lists them)`,
            ...file,
          });
        }
      }
    }
    for (const f of await builtinFlags()) {
      rows.push({
        kind: "flag",
        name: f.name,
        summary: `${f.macro} (${f.capability}), with proposal ${f.proposal}: ${f.summary}`,
      });
    }
    if (values.json) io.out(json({ items: rows } satisfies ListJson));
    else
      io.out(
        table(
          ["kind", "name", "summary"],
          rows.map((r) => [r.kind, r.name, r.file ? `${r.summary} [${r.file}]` : r.summary]),
        ),
      );
    return 0;
  },
};
