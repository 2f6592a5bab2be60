/**
 * The shape of the source tree: the core speaks no wire protocol (nothing outside src/cloud and src/sim imports
 * a platform folder), and no module imports itself through a circle.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { PLATFORM_NAMES } from "../../src/cloud/platform.js";

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), "../../src");

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}

/** Relative module specifiers of `import … from`, `export … from` and `import()`, resolved to .ts paths. */
function imports(file: string, withTypes: boolean): string[] {
  const text = readFileSync(file, "utf8");
  const out: string[] = [];
  const re = /(?:^|\n)\s*(import|export)\s+(type\s+)?[^;]*?from\s+["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g;
  for (const m of text.matchAll(re)) {
    const spec = m[3] ?? m[4];
    if (!spec || !spec.startsWith(".")) continue;
    if (m[2] && !withTypes) continue;
    out.push(resolve(dirname(file), spec.replace(/\.js$/, ".ts")));
  }
  return out;
}

const rel = (f: string, root = SRC) => relative(root, f);

function platformImportViolations(root: string): string[] {
  const platformDirs = PLATFORM_NAMES.map((p) => join(root, "cloud", p) + "/");
  const bad: string[] = [];
  for (const f of sources(root)) {
    const r = rel(f, root);
    if (r.startsWith("cloud/") || r.startsWith("sim/")) continue;
    for (const target of imports(f, true)) {
      if (platformDirs.some((d) => target.startsWith(d))) bad.push(`${r} imports ${rel(target, root)}`);
    }
  }
  return bad;
}

function importCircles(files: string[]): string[][] {
  const graph = new Map(files.map((f) => [f, imports(f, false).filter((t) => t.startsWith(SRC))]));
  const circles: string[][] = [];
  const state = new Map<string, 1 | 2>();
  const stack: string[] = [];
  const visit = (f: string) => {
    state.set(f, 1);
    stack.push(f);
    for (const t of graph.get(f) ?? []) {
      if (state.get(t) === 1) circles.push([...stack.slice(stack.indexOf(t)), t].map((f) => rel(f)));
      else if (!state.has(t)) visit(t);
    }
    stack.pop();
    state.set(f, 2);
  };
  for (const f of graph.keys()) if (!state.has(f)) visit(f);
  return circles;
}

test("no file outside src/cloud and src/sim imports a platform folder", () => {
  assert.deepEqual(platformImportViolations(SRC), []);
});

test("the check catches a core file that imports a platform folder", () => {
  const root = mkdtempSync(join(tmpdir(), "fb-arch-"));
  try {
    mkdirSync(join(root, "things"));
    mkdirSync(join(root, "cloud", "tencent"), { recursive: true });
    writeFileSync(join(root, "cloud", "tencent", "topics.ts"), "export const x = 1;\n");
    writeFileSync(join(root, "cloud", "platform.ts"), "export type A = 1;\n");
    writeFileSync(join(root, "things", "ok.ts"), 'import type { A } from "../cloud/platform.js";\n');
    writeFileSync(join(root, "things", "bad.ts"), 'import { x } from "../cloud/tencent/topics.js";\n');
    assert.deepEqual(platformImportViolations(root), ["things/bad.ts imports cloud/tencent/topics.ts"]);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("no import circle among the modules of src/ (value imports)", () => {
  assert.deepEqual(importCircles(sources(SRC)), []);
});
