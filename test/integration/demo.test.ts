import { test } from "node:test";
import assert from "node:assert/strict";
import { DaemonProcess } from "../helpers/cli.js";

/** `[n]` accepted values per sub-device, from the demo's latest live view. */
function acceptedCounts(out: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const m of out.matchAll(/^(a1Demo\S+)\s+(\S+)\s+\[(\d+)\]/gm)) counts.set(m[1]!, Number(m[3]));
  return counts;
}

test("fieldbridge demo shows values from the Modbus and the OPC UA simulator accepted by the cloud within 30 s; Ctrl-C exits 0", async (t) => {
  const demo = new DaemonProcess(["demo", "--http", "off"]);
  t.after(() => void demo.stop("SIGKILL"));
  const deadline = Date.now() + 30_000;
  let counts = new Map<string, number>();
  while (Date.now() < deadline) {
    counts = acceptedCounts(demo.stdout);
    const meter = counts.get("a1DemoMeter/meter-01") ?? 0;
    const boiler = counts.get("a1DemoBoiler/boiler-01") ?? 0;
    if (meter > 0 && boiler > 0) break;
    if (demo.child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.ok((counts.get("a1DemoMeter/meter-01") ?? 0) > 0, `Modbus values accepted:\n${demo.stdout.slice(-1500)}\n${demo.stderr.slice(-1500)}`);
  assert.ok((counts.get("a1DemoBoiler/boiler-01") ?? 0) > 0, `OPC UA values accepted:\n${demo.stdout.slice(-1500)}`);
  assert.match(demo.stdout, /gateway config pushed: reply code 200/);
  assert.match(demo.stdout, /Voltage=\d/);
  assert.match(demo.stdout, /Temperature=\d/);
  const stopped = await demo.stop("SIGINT", 15_000);
  assert.equal(stopped.code, 0, demo.stderr.slice(-2000));
  assert.match(demo.stdout, /demo stopped/);
});
