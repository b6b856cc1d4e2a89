// Tests of the model stage: every broken policy fixture gives exactly its expected errors at the right places,
// and every passing fixture validates. Fixtures are discovered by folder: test/fixtures/spec/{pass,fail}.

import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SpecError } from "../spec/errors.js";
import { resolvePolicy } from "../spec/resolve.js";
import { loadSpecFile } from "../spec/load.js";

const DIR = join(import.meta.dirname, "fixtures", "spec");

function header(file: string) {
  const text = readFileSync(file, "utf8");
  const expected = [...text.matchAll(/^\/\/ expect-error: (\S+) (\d+):(\d+) (.*)$/gm)].map((m) => ({
    kind: m[1],
    line: Number(m[2]),
    col: Number(m[3]),
    fragment: m[4],
  }));
  const compose = /^\/\/ compose: (\S+)$/m.exec(text)?.[1];
  return { expected, compose };
}

function expr(file: string, compose?: string) {
  return compose ? `${compose}+${file}` : file;
}

describe("broken policy fixtures", () => {
  for (const name of readdirSync(join(DIR, "fail")).sort()) {
    it(name, async () => {
      const file = join(DIR, "fail", name);
      const { expected, compose } = header(file);
      expect(expected.length).toBeGreaterThan(0);
      const err = await resolvePolicy(expr(file, compose)).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(SpecError);
      const got = (err as SpecError).problems.map((p) => ({
        kind: p.kind,
        line: p.loc?.line,
        col: p.loc?.col,
        file: p.loc?.file,
        message: p.message,
      }));
      expect(got.map(({ kind, line, col }) => ({ kind, line, col }))).toEqual(
        expected.map(({ kind, line, col }) => ({ kind, line, col })),
      );
      expected.forEach((e, i) => {
        expect(got[i].message).toContain(e.fragment);
        expect(got[i].file).toMatch(new RegExp(`fixtures/spec/fail/${name.replace(".", "\\.")}$`));
      });
    });
  }
});

describe("passing policy fixtures", () => {
  for (const name of readdirSync(join(DIR, "pass")).sort()) {
    it(name, async () => {
      const file = join(DIR, "pass", name);
      const { compose } = header(file);
      const p = await resolvePolicy(expr(file, compose));
      expect(p.rules.length).toBeGreaterThan(0);
    });
  }
});

describe("spec problems made at test time (test/fixtures/spec/generated.json)", () => {
  const { cases } = JSON.parse(readFileSync(join(DIR, "generated.json"), "utf8")) as {
    cases: { kind: string; make: string; message: string }[];
  };
  const makers: Record<string, () => string> = {
    "too-large": () => {
      const f = join(mkdtempSync(join(tmpdir(), "kspec-spec-")), "huge.ts");
      writeFileSync(f, `// ${"x".repeat(1 << 20)}\n`);
      return f;
    },
    unreadable: () => {
      const d = join(mkdtempSync(join(tmpdir(), "kspec-spec-")), "a-directory.ts");
      mkdirSync(d);
      return d;
    },
  };
  for (const c of cases) {
    it(`${c.kind}: ${c.make}`, async () => {
      const file = makers[c.kind]();
      const err = await loadSpecFile(file).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(SpecError);
      const p = (err as SpecError).problems[0];
      expect(p.kind).toBe(c.kind);
      expect(p.message).toContain(c.message);
    });
  }
});
