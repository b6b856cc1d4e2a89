// Command stage: kspec's version, from package.json (patch signatures and SARIF name it).

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../spec/root.js";

export const VERSION: string = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).version;
