/** A built tree as `npm run build` leaves it, with small stand-ins for dist/ and node_modules/ (for install tests). */
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./cli.js";

/** Files are written 0600 so that a test can see the installer fix their modes. */
export function fakeTree(dir: string): string {
  const tree = join(dir, "tree");
  mkdirSync(join(tree, "dist"), { recursive: true });
  mkdirSync(join(tree, "node_modules", "dep"), { recursive: true });
  mkdirSync(join(tree, "config"), { recursive: true });
  writeFileSync(join(tree, "dist", "cli.js"), "#!/usr/bin/env node\n", { mode: 0o600 });
  writeFileSync(join(tree, "node_modules", "dep", "index.js"), "export {};\n", { mode: 0o600 });
  writeFileSync(join(tree, "package.json"), JSON.stringify({ name: "fieldbridge", version: "9.8.7" }));
  copyFileSync(join(ROOT, "config", "config.example.json"), join(tree, "config", "config.example.json"));
  return tree;
}
