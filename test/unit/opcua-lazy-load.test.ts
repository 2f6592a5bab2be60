/**
 * Importing the OPC UA driver must not load node-opcua: it costs about a second and tens of MB, and a gateway
 * without OPC UA channels never needs it. A child process imports the driver, then node-opcua itself as a
 * control, and reports whether node-opcua's files were in the CommonJS module cache at each point.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

test("importing src/field/opcua/index.ts does not load node-opcua", () => {
  const driver = pathToFileURL(path.join(root, "src/field/opcua/index.ts")).href;
  const script = `
    import { createRequire } from "node:module";
    const require = createRequire(import.meta.url);
    const loaded = () => Object.keys(require.cache).filter((k) => /[\\\\/]node_modules[\\\\/]node-opcua[^\\\\/]*[\\\\/]/.test(k)).length;
    const mod = await import(${JSON.stringify(driver)});
    const afterDriver = loaded();
    await import("node-opcua");
    const afterLibrary = loaded();
    console.log(JSON.stringify({ exported: typeof mod.createOpcuaChannel, afterDriver, afterLibrary }));
    process.exit(0);
  `;
  const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
    cwd: root,
    encoding: "utf8",
    timeout: 60_000,
    env: { ...process.env, NODEOPCUA_LOG_LEVEL: "3" },
  });
  assert.equal(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout.trim().split("\n").at(-1)!) as { exported: string; afterDriver: number; afterLibrary: number };
  assert.equal(report.exported, "function");
  assert.equal(report.afterDriver, 0, "node-opcua was loaded by importing the driver");
  // The control: the same probe does see node-opcua once it is imported, so the zero above means something.
  assert.ok(report.afterLibrary > 10, `expected node-opcua modules in the cache, saw ${report.afterLibrary}`);
});
