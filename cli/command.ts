// Command stage: the shape every subcommand shares, so that main can parse, document and dispatch uniformly.

import type { ParseArgsConfig } from "node:util";
import type { Io } from "./io.js";

export type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;

export interface Command {
  name: string;
  summary: string;
  /** The synopsis line(s) shown by --help. */
  usage: string;
  /** Extra --help text: what the output means, exit codes. */
  details?: string;
  options: NonNullable<ParseArgsConfig["options"]>;
  /** One line of help per option of the command's own (shared options are described in cli/options.ts). */
  optionHelp?: Readonly<Record<string, string>>;
  positionals?: boolean;
  /** --config names the file the command writes (init), not one to read first. */
  writesConfig?: boolean;
  run(args: { values: Values; positionals: string[] }, io: Io): Promise<number>;
}

export function str(values: Values, name: string): string | undefined {
  const v = values[name];
  return typeof v === "string" ? v : undefined;
}
