import { test } from "node:test";
import assert from "node:assert/strict";
import { DaemonProcess } from "../helpers/cli.js";
import { worldPlatforms } from "../../src/sim/worlds.js";

/** `[n]` accepted values per device, from the demo's latest live view. */
function acceptedCounts(out: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const m of out.matchAll(/^(\S+\/\S+)\s+(\S+)\s+\[(\d+)\]/gm)) counts.set(m[1]!, Number(m[3]));
  return counts;
}

for (const platform of worldPlatforms()) {
  test(`fieldbridge demo --platform ${platform} shows values from the Modbus and the OPC UA simulator accepted by the cloud within 30 s; Ctrl-C exits 0`, async (t) => {
    const demo = new DaemonProcess(["demo", "--platform", platform, "--http", "off"]);
    t.after(() => void demo.stop("SIGKILL"));
    const deadline = Date.now() + 30_000;
    let counts = new Map<string, number>();
    let meter = "";
    let boiler = "";
    while (Date.now() < deadline) {
      const names = /^devices: Modbus meters (\S+), \S+; OPC UA boiler (\S+)$/m.exec(demo.stdout);
      if (names) [meter, boiler] = [names[1]!, names[2]!];
      counts = acceptedCounts(demo.stdout);
      if ((counts.get(meter) ?? 0) > 0 && (counts.get(boiler) ?? 0) > 0) break;
      if (demo.child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.ok(meter && boiler, `device names printed:\n${demo.stdout.slice(0, 1500)}\n${demo.stderr.slice(-1500)}`);
    assert.ok((counts.get(meter) ?? 0) > 0, `Modbus values accepted:\n${demo.stdout.slice(-1500)}\n${demo.stderr.slice(-1500)}`);
    assert.ok((counts.get(boiler) ?? 0) > 0, `OPC UA values accepted:\n${demo.stdout.slice(-1500)}`);
    assert.match(demo.stdout, /gateway config delivered: applied/);
    assert.match(demo.stdout, /Voltage=\d/);
    assert.match(demo.stdout, /Temperature=\d/);
    const stopped = await demo.stop("SIGINT", 15_000);
    assert.equal(stopped.code, 0, demo.stderr.slice(-2000));
    assert.match(demo.stdout, /demo stopped/);
  });
}

test("fieldbridge demo --platform with an unknown name is a usage error", async () => {
  const { runCli } = await import("../helpers/cli.js");
  const r = await runCli(["demo", "--platform", "azure"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--platform must be one of aliyun, tencent, huawei, lierda/);
});
