// Command stage (options): the one line of --help each option gets. Options several commands share are described
// once here; a command describes its own in `optionHelp`. A test requires a line for every option of every command.

/** Options shared by several commands. */
export const COMMON_HELP: Readonly<Record<string, string>> = {
  kernel: "a kernel source tree (read only); DIR@REV: a commit of the git repository DIR",
  function: "the C function to read (default vmx_get_mt_mask)",
  flag: "the memslot-flag spec whose KVM_MEM_* bit is the slotFlag input (kspec list)",
  policy: "a built-in policy name, a .ts policy file, or BASE+PROPOSAL",
  json: "machine-readable output (its JSON Schema is in docs/schemas/)",
  sarif: "SARIF 2.1.0 output, for code-scanning tools",
  config: "the config file (default: kspec.config.json, looked for from the current directory upwards)",
  help: "this help",
};

/** What an option's value is, as the synopses write it (`--kernel DIR`, `--policy P`). */
const METAVAR: Readonly<Record<string, string>> = {
  kernel: "DIR",
  function: "F",
  flag: "F",
  policy: "P",
  vs: "Q",
  out: "DIR",
  config: "FILE",
  name: "N",
  when: "CONDITION",
  fuzz: "N",
  "series-version": "N",
};

/** `--name VALUE (repeatable)  what it does`, aligned. */
export function optionLines(
  options: Readonly<Record<string, { type: string; multiple?: boolean }>>,
  own: Readonly<Record<string, string>> = {},
): string[] {
  const all: Record<string, { type: string; multiple?: boolean }> = { ...options, help: { type: "boolean" } };
  const rows = Object.entries(all).map(([k, o]) => [
    `--${k}${o.type === "string" ? ` ${METAVAR[k] ?? "VALUE"}` : ""}${o.multiple ? " (repeatable)" : ""}`,
    own[k] ?? COMMON_HELP[k] ?? "",
  ]);
  const w = Math.max(...rows.map((r) => r[0].length));
  return rows.map(([a, b]) => `  ${a.padEnd(w)}  ${b}`.trimEnd());
}
