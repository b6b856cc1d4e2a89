// Load stage (packages): every npm package kspec loads at run time (@babel/parser, tree-sitter and its C grammar,
// handlebars, prettier) is loaded through requirePackage, when a run first needs it. require, not import: importing
// a CommonJS package makes Node lex all of it for its named exports (~40 ms for @babel/parser, ~50 ms for
// tree-sitter). The installed command puts its own loader here (cli/launch.cts), which gives V8 a code cache.
// Likewise the Node builtins that cost milliseconds to load and that a check of a directory never uses.

import { createRequire } from "node:module";

/** Loads a package (or a file of one, such as its package.json) by the name kspec's own code would require. */
export type PackageLoader = (id: string) => unknown;

const nodeRequire = createRequire(import.meta.url);
let loader: PackageLoader = nodeRequire;

export function requirePackage<T>(id: string): T {
  return loader(id) as T;
}

/**
 * node:child_process, loaded when a run first starts a process (git, git mailsplit): loading it loads net and dgram
 * too, ~2 ms of every run that would otherwise never use it.
 */
export function childProcess(): typeof import("node:child_process") {
  return nodeRequire("node:child_process") as typeof import("node:child_process");
}

/** node:tty, loaded only to ask whether a character device is a terminal: loading it loads net too. */
export function tty(): typeof import("node:tty") {
  return nodeRequire("node:tty") as typeof import("node:tty");
}

/** Set once, before a command runs: later loads go through `l`. */
export function setPackageLoader(l: PackageLoader): void {
  loader = l;
}
