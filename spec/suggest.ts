// Report stage (suggestions): "did you mean" for a name that is close to a known one — a command, an option, a
// policy, a flag spec. Close means a small edit distance for the name's length.

/** Levenshtein distance, with an early stop beyond `max`. */
function distance(a: string, b: string, max: number): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    let best = i;
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      best = Math.min(best, cur[j]);
    }
    if (best > max) return max + 1;
    prev = cur;
  }
  return prev[b.length];
}

/** The known names closest to `name`, if any is close enough to be what was meant. */
export function closest(name: string, known: readonly string[]): string[] {
  const max = Math.max(1, Math.floor(name.length / 3));
  const scored = known
    .map((k) => ({
      k,
      d: k.startsWith(name) || name.startsWith(k) ? 1 : distance(name.toLowerCase(), k.toLowerCase(), max),
    }))
    .filter((x) => x.d <= max);
  const best = Math.min(...scored.map((x) => x.d));
  return scored
    .filter((x) => x.d === best)
    .map((x) => x.k)
    .sort();
}

/** " (did you mean X?)", or nothing. */
export function didYouMean(name: string, known: readonly string[]): string {
  const c = closest(name, known);
  return c.length ? ` (did you mean ${c.slice(0, 3).join(" or ")}?)` : "";
}
