// Copies non-TypeScript assets next to the compiled code: JSON Schema files, and the status page (src/ops/page).
import { cpSync, existsSync, readdirSync, statSync, mkdirSync, chmodSync } from "node:fs";
import { join, dirname } from "node:path";

function walk(dir, keep, out = []) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, keep, out);
    else if (keep(p)) out.push(p);
  }
  return out;
}
const asset = (p) => p.endsWith(".json") || (p.startsWith(join("src", "ops", "page")) && /\.(html|css|js)$/.test(p));
for (const src of walk("src", asset)) {
  const dst = join("dist", src.slice("src/".length));
  mkdirSync(dirname(dst), { recursive: true });
  cpSync(src, dst);
}
if (existsSync("dist/cli.js")) chmodSync("dist/cli.js", 0o755);
