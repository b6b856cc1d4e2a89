// Report stage (conditions): turning sets of input assignments into a few readable conditions ("when noncoherentDma, cr0Cd,
// quirkCdNwCleared") — used wherever rows are shown to people: differences, hazards, counterexamples.

import type { Env } from "./evaluate.js";
import { domainOf, formatLiteral, sortInputs, type InputValue } from "./vocabulary.js";

/** A conjunction: each listed input has one of its values; unlisted inputs are free. */
export type Cube = ReadonlyMap<string, readonly InputValue[]>;

export function cubeOf(env: Env): Cube {
  return new Map([...env].map(([k, v]) => [k, [v]]));
}

function key(c: Cube, skip?: string): string {
  return sortInputs(c.keys())
    .filter((k) => k !== skip)
    .map((k) => `${k}=${c.get(k)!.map(String).join("|")}`)
    .join(";");
}

/**
 * Merges cubes that differ in one input only, until nothing merges; a literal whose values cover the input's
 * whole domain is dropped. The result covers exactly the same assignments as the input.
 */
export function mergeCubes(cubes: readonly Cube[]): Cube[] {
  let cur = dedupe(cubes);
  for (;;) {
    let merged = false;
    const inputs = sortInputs(cur.flatMap((c) => [...c.keys()]));
    for (const k of inputs) {
      const groups = new Map<string, Cube[]>();
      for (const c of cur) {
        const g = `${[...c.keys()].includes(k) ? "+" : "-"}${key(c, k)}`;
        const list = groups.get(g) ?? [];
        list.push(c);
        groups.set(g, list);
      }
      const next: Cube[] = [];
      for (const list of groups.values()) {
        if (list.length === 1 || !list[0].has(k)) {
          next.push(...list);
          continue;
        }
        merged = true;
        const values = new Set(list.flatMap((c) => c.get(k)!));
        const domain = domainOf(k);
        const m = new Map(list[0]);
        if (values.size === domain.length) m.delete(k);
        else
          m.set(
            k,
            domain.filter((v) => values.has(v)),
          );
        next.push(m);
      }
      cur = dedupe(next);
    }
    if (!merged) return cur.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  }
}

function dedupe(cubes: readonly Cube[]): Cube[] {
  const m = new Map<string, Cube>();
  for (const c of cubes) m.set(key(c), c);
  return [...m.values()];
}

export function formatCube(c: Cube): string {
  const names = sortInputs(c.keys());
  return names.length ? names.map((n) => formatLiteral(n, c.get(n)!)).join(", ") : "always";
}

export function cubeToJson(c: Cube): Record<string, InputValue | InputValue[]> {
  const out: Record<string, InputValue | InputValue[]> = {};
  for (const n of sortInputs(c.keys())) {
    const v = c.get(n)!;
    out[n] = v.length === 1 ? v[0] : [...v];
  }
  return out;
}
