// Compare stage: two mask-computing functions over the same input space, explored jointly; the paths where
// they differ, grouped by what each side did, with the assignments merged into readable conditions.
// Used for policy vs policy (explain --vs), C vs policy (check) and C vs C (diff).

import { explore, type Env, type ExploreOptions } from "./evaluate.js";
import { cubeOf, mergeCubes, type Cube } from "./cubes.js";
import { sortInputs } from "./vocabulary.js";

export interface Outcome<O> {
  mask: number;
  /** What produced the mask (a rule, a C return); groups are formed per pair of origins. */
  origin: O;
}

export interface DiffGroup<A, B> {
  a: Outcome<A>;
  b: Outcome<B>;
  when: Cube[];
  /** The differing paths of this group, as explored (partial assignments). */
  paths: Env[];
}

export interface Comparison<A, B> {
  equal: boolean;
  /** Inputs either side read, in vocabulary order. */
  inputs: string[];
  groups: DiffGroup<A, B>[];
  paths: number;
}

export function compareFns<A, B>(
  a: (env: Env) => Outcome<A>,
  b: (env: Env) => Outcome<B>,
  originKey: (o: A | B) => string,
  opts: ExploreOptions = {},
): Comparison<A, B> {
  // Each side runs to completion on every path, so the inputs either side reads are all assigned.
  const leaves = explore((env) => [a(env), b(env)] as const, opts);
  const inputs = sortInputs(leaves.flatMap((l) => [...l.env.keys()]));
  const byKey = new Map<string, DiffGroup<A, B>>();
  for (const {
    env,
    value: [x, y],
  } of leaves) {
    if (x.mask === y.mask) continue;
    const k = `${x.mask}\u0000${originKey(x.origin)}\u0000${y.mask}\u0000${originKey(y.origin)}`;
    let g = byKey.get(k);
    if (!g) byKey.set(k, (g = { a: x, b: y, when: [], paths: [] }));
    g.paths.push(env);
  }
  const groups = [...byKey.values()];
  for (const g of groups) g.when = mergeCubes(g.paths.map(cubeOf));
  return { equal: groups.length === 0, inputs, groups, paths: leaves.length };
}
