// Tests of the house rules that keep kspec navigable: the floors import only downwards (spec <- kernel <- checker
// <- generator <- cli), the generator reaches the analysis floor through its one door (checker/step.ts), there are
// no import loops, every module opens with a line naming its stage, and docs/architecture.md names every module.

import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO } from "./helpers/run.js";

const FLOORS = ["spec", "kernel", "checker", "generator", "cli"] as const;

function modules(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(join(REPO, dir), { withFileTypes: true })) {
      const rel = `${dir}/${e.name}`;
      if (e.isDirectory() && !["policies", "flags"].includes(e.name)) walk(rel);
      else if (e.isFile() && /\.c?ts$/.test(e.name)) out.push(rel);
    }
  };
  for (const f of FLOORS) walk(f);
  return out.sort();
}

/** The project modules a module imports (relative imports only), as repository paths. */
function imports(mod: string): string[] {
  const text = readFileSync(join(REPO, mod), "utf8");
  const dir = mod.split("/").slice(0, -1);
  return [...text.matchAll(/^(?:import|export)\b[^;]*?\bfrom\s+"(\.{1,2}\/[^"]+)";/gms)].map((m) => {
    const parts = [...dir];
    for (const seg of m[1].split("/")) {
      if (seg === "..") parts.pop();
      else if (seg !== ".") parts.push(seg);
    }
    return parts.join("/").replace(/\.(c?)js$/, ".$1ts");
  });
}

const floor = (mod: string) => FLOORS.indexOf(mod.split("/")[0] as (typeof FLOORS)[number]);

describe("architecture", () => {
  const all = modules();

  it("reads the import graph (the checks below see real edges)", () => {
    expect(imports("checker/interp.ts")).toEqual(
      expect.arrayContaining(["kernel/locate.ts", "checker/binding.ts"]),
    );
    expect(imports("generator/series.ts")).toContain("checker/step.ts");
  });

  it("floors import only from their own floor or the ones below", () => {
    const up = all.flatMap((m) =>
      imports(m)
        .filter((i) => floor(i) > floor(m))
        .map((i) => `${m} -> ${i}`),
    );
    expect(up).toEqual([]);
  });

  it("the generator uses the analysis floor only through checker/step.ts", () => {
    const reach = all
      .filter((m) => m.startsWith("generator/"))
      .flatMap((m) =>
        imports(m)
          .filter((i) => i.startsWith("checker/") && i !== "checker/step.ts")
          .map((i) => `${m} -> ${i}`),
      );
    expect(reach).toEqual([]);
  });

  it("there are no import loops", () => {
    const graph = new Map(all.map((m) => [m, imports(m).filter((i) => all.includes(i))]));
    const state = new Map<string, "open" | "done">();
    const loops: string[] = [];
    const visit = (m: string, path: string[]) => {
      if (state.get(m) === "done") return;
      if (state.get(m) === "open") {
        loops.push([...path.slice(path.indexOf(m)), m].join(" -> "));
        return;
      }
      state.set(m, "open");
      for (const i of graph.get(m) ?? []) visit(i, [...path, m]);
      state.set(m, "done");
    };
    for (const m of all) visit(m, []);
    expect(loops).toEqual([]);
  });

  it("every module opens with a line that names its stage", () => {
    const bad = all.filter(
      (m) => !/^\/\/ [A-Z][a-z-]+ stage( \([^)]+\))?: /.test(readFileSync(join(REPO, m), "utf8")),
    );
    expect(bad).toEqual([]);
  });

  it("docs/architecture.md names every module, and only modules that exist", () => {
    const doc = readFileSync(join(REPO, "docs", "architecture.md"), "utf8");
    const named = new Set(
      [...doc.matchAll(/`((?:spec|kernel|checker|generator|cli)\/[\w/-]+\.c?ts)`/g)].map((m) => m[1]),
    );
    expect(all.filter((m) => !named.has(m))).toEqual([]);
    expect([...named].filter((m) => !all.includes(m))).toEqual([]);
  });
});
