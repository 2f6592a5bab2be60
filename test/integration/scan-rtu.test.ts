/**
 * `fieldbridge scan` on a serial line (the shipped CLI, a socat pty pair, the Modbus RTU simulator): the channel is a
 * `serialPorts` key with no document channel on it, so the line runs at the defaults (9600 8N1); one unit answers, one
 * answers with an exception, the rest are silent.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ModbusRtuSimulator } from "../../src/sim/modbus/index.js";
import { runCli } from "../helpers/cli.js";
import { startPtyPair, type PtyPair } from "../helpers/socat.js";

describe("fieldbridge scan over Modbus RTU", () => {
  let pty: PtyPair;
  let sim: ModbusRtuSimulator;
  let dir: string;
  let configFile: string;

  before(async () => {
    pty = await startPtyPair();
    sim = await ModbusRtuSimulator.start({ path: pty.server, units: [3, 9] });
    sim.setHolding(3, 0, [321]);
    sim.setIllegal(9, "holding", 0, 8);
    dir = mkdtempSync(join(tmpdir(), "fb-scan-rtu-"));
    configFile = join(dir, "config.json");
    writeFileSync(configFile, JSON.stringify({
      gateway: { platform: "aliyun", productKey: "a1ScanGw", deviceName: "scan-gw-01", deviceSecret: "ScanGatewaySecretForTestsOnly001" },
      dataDir: join(dir, "data"),
      serialPorts: { "0": pty.client },
    }));
  });
  after(async () => {
    await sim?.close();
    await pty?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("a serialPorts key at the default line settings: answer, exception (present), silence", async () => {
    const r = await runCli(["scan", "--config", configFile, "--channel", "0", "--units", "2-4,9-10", "--timeout", "300"], { timeoutMs: 30_000 });
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.deepEqual(r.stdout.trim().split("\n"), [
      `scanning serial port ${pty.client} (Modbus RTU ${pty.client} 9600 8N1): units 2-4, 9-10, timeout 300 ms, gap 50 ms`,
      "unit 3: answers (holding register 0 = 321)",
      "unit 9: answers with exception 2 (illegal data address): present",
      "no answer: 2, 4, 10",
      "2 of 5 unit(s) present: 3, 9",
    ]);
  });
});
