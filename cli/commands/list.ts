// Command stage: `kspec list` — the built-in policies, proposals and memslot-flag specs, one line each.

import type { Command } from "../command.js";
import { builtinNames, loadPart, POLICY_DIR } from "../../spec/resolve.js";
import { builtinFlags } from "../../spec/flags.js";
import { json, table } from "../io.js";
import type { ListJson } from "../json-types.js";

export const list: Command = {
  name: "list",
  summary: "built-in policies, proposals and memslot-flag specs, one line each",
  usage: "kspec list [--json]",
  options: { json: { type: "boolean" } },
  async run({ values }, io) {
    const rows: ListJson["items"] = [];
    for (const name of builtinNames(POLICY_DIR)) {
      const part = await loadPart(name);
      if (part.kind === "policy")
        rows.push({ kind: "policy", name, summary: part.policy.summary ?? part.policy.source });
      else rows.push({ kind: "proposal", name, summary: part.proposal.summary ?? part.proposal.source });
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
          rows.map((r) => [r.kind, r.name, r.summary]),
        ),
      );
    return 0;
  },
};
