/** The scan's parts: unit lists, outcomes of one probe (incl. a TCP gateway's "no answer" exceptions), device names, the daemon's inbox. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { formatUnits, parseUnits, probeUnit } from "../../src/field/modbus/scan.js";
import { ModbusExceptionError, ModbusProtocolError, ModbusTimeoutError } from "../../src/field/modbus/errors.js";
import type { ModbusTransport } from "../../src/field/modbus/transport.js";
import { foundDeviceName } from "../../src/ops/scan-command.js";
import { FOUND_DIR, FoundInbox, readFoundResult, writeFoundReport } from "../../src/core/found-inbox.js";
import { captureLogger } from "../helpers/log-capture.js";

test("unit lists: ranges and lists within 1..247, sorted, without duplicates; formatted back as ranges", () => {
  assert.deepEqual(parseUnits("5,1-3,2"), [1, 2, 3, 5]);
  assert.equal(parseUnits("1-247").length, 247);
  for (const bad of ["0", "248", "1-300", "9-3", "a", "1,,2"]) assert.throws(() => parseUnits(bad), /--units/);
  assert.equal(formatUnits([1, 2, 3, 5, 7, 8]), "1-3, 5, 7-8");
  assert.equal(formatUnits([]), "");
});

function failing(err: Error | null): ModbusTransport {
  return {
    isOpen: true, open: async () => undefined, close: async () => undefined, onLost: () => undefined,
    execute: async () => {
      if (err) throw err;
      return { registers: [42] };
    },
  };
}

test("one probe: an answer, an exception (present), a gateway's 10/11 and a timeout (absent), a garbled frame", async () => {
  assert.deepEqual(await probeUnit(failing(null), 4, 100), { unit: 4, outcome: "answer", detail: "holding register 0 = 42" });
  assert.deepEqual(await probeUnit(failing(new ModbusExceptionError(1)), 4, 100), { unit: 4, outcome: "exception", code: 1, detail: "exception 1 (illegal function)" });
  assert.equal((await probeUnit(failing(new ModbusExceptionError(11)), 4, 100)).outcome, "none");
  assert.equal((await probeUnit(failing(new ModbusExceptionError(10)), 4, 100)).outcome, "none");
  assert.deepEqual(await probeUnit(failing(new ModbusTimeoutError(100)), 4, 100), { unit: 4, outcome: "none", detail: "no answer within 100 ms" });
  assert.match((await probeUnit(failing(new ModbusProtocolError("bad crc")), 4, 100)).detail, /garbled answer \(bad crc\); check the line settings/);
});

test("device names of found units follow the platform's rules", () => {
  assert.equal(foundDeviceName("rs485 bus/0", 17), "rs485-bus-0-u17");
  assert.equal(foundDeviceName("A93E7C215D8B4F06B1C2D3E4F5A6B7C8", 247).length, 32);
  assert.match(foundDeviceName("x", 1), /^[A-Za-z0-9_@.:-]{4,32}$/);
});

test("the inbox: reported, retried while the platform cannot take it, refused, invalid, unsupported", async () => {
  const dir = mkdtempSync(join(tmpdir(), "fb-found-"));
  try {
    const { logger } = captureLogger();
    const answers: Array<{ ok: true } | { ok: false; retry: boolean; reason: string }> = [{ ok: false, retry: true, reason: "not connected" }, { ok: true }, { ok: false, retry: false, reason: "refused 6250" }];
    const seen: number[] = [];
    const inbox = new FoundInbox(dir, { name: "aliyun", reportFound: async (d) => (seen.push(d.length), answers.shift()!) }, logger);
    const report = { productKey: "a1P", channel: "C1", scannedAt: Date.now(), devices: [{ productKey: "a1P", deviceName: "line-u1", unit: 1 }] };
    const first = await writeFoundReport(dir, report);
    await inbox.tick();
    assert.equal(await readFoundResult(first), undefined, "kept while the platform cannot take it");
    await inbox.tick();
    assert.deepEqual(seen, [1], "not retried before its delay");
    (inbox as unknown as { notBefore: Map<string, number> }).notBefore.clear();
    await inbox.tick();
    assert.equal((await readFoundResult(first))?.state, "reported");
    const second = await writeFoundReport(dir, { ...report, scannedAt: Date.now() + 1 });
    await inbox.tick();
    assert.deepEqual(await readFoundResult(second).then((r) => [r?.state, r?.reason]), ["refused", "refused 6250"]);
    writeFileSync(join(dir, FOUND_DIR, "zz-bad.json"), "{");
    await inbox.tick();
    assert.equal((await readFoundResult(join(dir, FOUND_DIR, "zz-bad.json")))?.state, "invalid");
    assert.deepEqual(readdirSync(join(dir, FOUND_DIR)).filter((n) => n.endsWith(".json")), [], "every report has been answered");

    const other = join(dir, "other");
    mkdirSync(other);
    const plain = new FoundInbox(other, { name: "huawei" }, logger);
    const third = await writeFoundReport(other, report);
    await plain.tick();
    assert.equal((await readFoundResult(third))?.state, "unsupported");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
