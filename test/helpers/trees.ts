// Test helper: the real Debian kernel trees, obtained through the project's own script (installed and extracted
// on first use, cached outside the repository).

import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { REPO } from "./run.js";

export type Version = "6.1" | "6.12";
const dirs = new Map<Version, string>();

export function treeDir(v: Version): string {
  let d = dirs.get(v);
  if (!d) {
    const out = execFileSync("bash", [join(REPO, "scripts", "kernel-trees.sh"), v], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
    });
    d = out.trim().split(" ")[1];
    if (!d) throw new Error(`kernel-trees.sh ${v} printed no directory`);
    dirs.set(v, d);
  }
  return d;
}
