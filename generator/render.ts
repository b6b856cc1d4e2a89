// Render stage: the Handlebars environment — templates/*.hbs compiled once, partials registered, no HTML escaping
// (the output is C, reStructuredText and mail), and strict mode so a missing view-model field is an error.

import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import type HandlebarsType from "handlebars";
import { requirePackage } from "../spec/packages.js";
import { ROOT } from "../spec/root.js";

const Handlebars = requirePackage<typeof HandlebarsType>("handlebars");
const TEMPLATE_DIR = join(ROOT, "templates");
const hb = Handlebars.create();
const compiled = new Map<string, HandlebarsTemplateDelegate>();

for (const f of readdirSync(TEMPLATE_DIR).filter((x) => x.endsWith(".hbs"))) {
  const src = readFileSync(join(TEMPLATE_DIR, f), "utf8");
  const name = f.slice(0, -4);
  const t = hb.compile(src, { noEscape: true, strict: true });
  compiled.set(name, t);
  // Every template can be used as a partial by its name without the extension: {{> rule}}.
  hb.registerPartial(name.replace(/\.[a-z]+$/, ""), t);
}

export function render(name: string, view: object): string {
  const t = compiled.get(name);
  if (!t) throw new Error(`internal: no template ${name}.hbs`);
  return t(view);
}
