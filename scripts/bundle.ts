// Build stage: bundles the compiled command line (dist/cli/main.js and every module it can load) into one CommonJS
// file, dist/kspec.cjs, which bin/kspec.cjs runs. Node's ES module loader resolves, reads and links each of kspec's
// ~45 modules one by one, and builds a namespace over every export of each builtin it imports (node:crypto's alone
// costs 3 ms); one CommonJS file skips all of that. Measured on check of the 6.12 tree: 245 ms -> 219 ms.
// The modules in dist/ stay as they are: the library entry ("kspec": definePolicy) and the tests import them.

import { buildSync } from "esbuild";
import { join } from "node:path";
import { BUNDLE } from "../cli/launch.cjs";
import { ROOT } from "../spec/root.js";

// The bundle lies next to the modules it is made of (dist/), so that the package root is found from it as from them.

// import.meta.url is how a module finds the package root and requires CommonJS packages (tree-sitter, handlebars);
// in the bundle every module is the bundle, so it is the bundle's own URL.
const META_URL = "__kspec_bundle_url";

const { metafile } = buildSync({
  entryPoints: [join(ROOT, "dist", "cli", "main.js")],
  outfile: BUNDLE,
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  // npm packages stay where npm put them: tree-sitter's native binding, and the versions the cache key names.
  packages: "external",
  banner: { js: `const ${META_URL} = require("node:url").pathToFileURL(__filename).href;` },
  define: { "import.meta.url": META_URL },
  logLevel: "warning",
  // Same inputs, same bytes: the build id hashes this file.
  legalComments: "none",
  metafile: true,
});

// cli/launch.cts compiles the bundle with vm, whose code cannot import() (Node needs a callback per script that a
// cached compilation does not keep): a package is required instead. A dynamic import of kspec's own modules is
// bundled (it becomes a require), so only a package's can be left.
const dynamic = Object.values(metafile.outputs)
  .flatMap((o) => o.imports)
  .filter((i) => i.kind === "dynamic-import" && i.external);
if (dynamic.length)
  throw new Error(
    `bundle: import() of ${dynamic.map((i) => i.path).join(", ")}: require it (see cli/launch.cts)`,
  );
