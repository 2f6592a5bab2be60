// Copies non-TypeScript assets (JSON Schema files) next to the compiled code.
import { cpSync, existsSync, readdirSync, statSync, mkdirSync, chmodSync } from "node:fs";
import { join, dirname } from "node:path";

function walk(dir, out = []) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith(".json")) out.push(p);
  }
  return out;
}
for (const src of walk("src")) {
  const dst = join("dist", src.slice("src/".length));
  mkdirSync(dirname(dst), { recursive: true });
  cpSync(src, dst);
}
if (existsSync("dist/cli.js")) chmodSync("dist/cli.js", 0o755);
