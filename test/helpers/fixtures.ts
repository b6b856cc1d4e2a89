// Test helper: C fixtures spliced into a real kernel tree in place of a function — in memory through the overlay,
// or on disk in a temporary partial copy of the tree (the files the checker reads), for end-to-end CLI runs.

import { readFileSync } from "node:fs";
import { KernelTree } from "../../kernel/tree.js";
import { locateFunction } from "../../kernel/locate.js";
import { partialTree } from "../../scripts/history.js";
import type { Version } from "./trees.js";

export interface Expectation {
  policy: string;
  verdict: "equal" | "differs" | "unverifiable";
  when?: string[];
  kind?: string;
  name?: string;
}

export interface Fixture {
  file: string;
  text: string;
  tree: Version;
  expect: Expectation[];
  /** 0-based line of the `kspec-problem` marker in the fixture, if any. */
  markerLine?: number;
  /** tree-sitter's parse of the whole spliced file must wrap the function in an ERROR node. */
  errorWrapped: boolean;
}

export function readFixture(file: string): Fixture {
  const text = readFileSync(file, "utf8");
  const header = /^\/\/ kspec-fixture tree=(\S+)(.*)$/m.exec(text);
  const tree = header?.[1] as Version | undefined;
  if (!tree) throw new Error(`${file}: no kspec-fixture header`);
  const expect = [...text.matchAll(/^\/\/ expect (.*)$/gm)].map((m) => {
    const attrs = Object.fromEntries(
      [...m[1].matchAll(/(\w+)=(?:"([^"]*)"|(\S+))/g)].map((a) => [a[1], a[2] ?? a[3]]),
    );
    if (m[1].includes("name=for loop")) attrs.name = "for loop";
    return {
      policy: attrs.policy,
      verdict: attrs.verdict,
      when: attrs.when?.split(";").map((s: string) => s.trim()),
      kind: attrs.kind,
      name: attrs.name,
    } as Expectation;
  });
  const idx = text.split("\n").findIndex((l) => l.includes("kspec-problem"));
  return {
    file,
    text,
    tree,
    expect,
    markerLine: idx >= 0 ? idx : undefined,
    errorWrapped: /\berror-wrapped\b/.test(header![2]),
  };
}

/** The tree with `fn` replaced by the fixture's text, and the line at which the fixture starts. */
export function splice(
  tree: KernelTree,
  text: string,
  fn = "vmx_get_mt_mask",
): { tree: KernelTree; file: string; startLine: number; content: string } {
  const loc = locateFunction(tree, fn);
  const src = tree.read(loc.info.file)!;
  // tree-sitter's node binding indexes JavaScript strings in UTF-16 units, like String.prototype.slice.
  const content = src.slice(0, loc.node.startIndex) + text + src.slice(loc.node.endIndex);
  return {
    tree: tree.withOverlay(new Map([[loc.info.file, content]])),
    file: loc.info.file,
    startLine: loc.info.line,
    content,
  };
}

/** A temporary directory holding the files of `tree` the checker reads for `fn`, with `file` replaced. */
export function partialCopy(treeDir: string, replace: { file: string; content: string }): string {
  return partialTree(treeDir, replace.file, replace);
}
