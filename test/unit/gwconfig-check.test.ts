import { test } from "node:test";
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { fileURLToPath } from "node:url";
import { checkGatewayConfigFile } from "../../src/config/gateway/check.js";

const file = (p: string): string => fileURLToPath(new URL(`../../${p}`, import.meta.url));
const bootstrap = { serialPorts: { "0": "/dev/ttyUSB0" }, gateway: { platform: "aliyun", deviceSecret: "0123456789abcdef0123456789abcdef" }, mqtt: {}, sessions: {} } as const;

async function check(path: string, withBootstrap: boolean): Promise<{ ok: boolean; lines: string[] }> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on("data", (c: Buffer) => chunks.push(c));
  const ok = await checkGatewayConfigFile(path, withBootstrap ? (bootstrap as never) : undefined, out);
  out.end();
  return { ok, lines: Buffer.concat(chunks).toString("utf8").trimEnd().split("\n") };
}

test("the vendor document fails with one line per problem, as path: message", async () => {
  const { ok, lines } = await check(file("test/fixtures/gateway/vendor-example.json"), false);
  assert.equal(ok, false);
  const errorLines = lines.filter((l) => /^(serverList|deviceList|modelList|tslList)\[/.test(l) && !l.includes(": warning: "));
  assert.deepEqual(errorLines, [
    'serverList[2].url: "tcp:00" is not an opc.tcp://host[:port][/path] endpoint',
    'serverList[3].url: "tcp:00" is not an opc.tcp://host[:port][/path] endpoint',
    'deviceList[0].deviceConfig.serverId: no serverList entry "44895C63E3FF4013924CEF31519ABE7B"',
    'deviceList[1].deviceConfig.serverId: no serverList entry "55A9D276A7ED47"',
    'deviceList[2].deviceConfig.serverId: no serverList entry "D73251B4277742D"',
    'deviceList[3].deviceConfig.serverId: no serverList entry "586CB066D6A34E"',
  ]);
  // without a bootstrap config the serial port "0" cannot be resolved: a warning, not an error
  assert.ok(lines.includes('serverList[0].serialPort: warning: serial port "0" not checked: it must be mapped in the bootstrap serialPorts'));
  assert.match(lines.at(-1)!, /vendor-example\.json: invalid gateway config \(6 errors, \d+ warnings\)$/);
});

test("the example is valid and is described; without a bootstrap config passwords are not decrypted", async () => {
  const withBoot = await check(file("config/gateway-config.example.json"), true);
  assert.equal(withBoot.ok, true);
  assert.match(withBoot.lines[0]!, /gateway-config\.example\.json: valid gateway config$/);
  assert.ok(withBoot.lines.includes('  channel A93E7C215D8B4F06B1C2D3E4F5A6B7C8 "rs485-bus-0": Modbus RTU /dev/ttyUSB0 9600 8E1'));
  assert.ok(!withBoot.lines.join("\n").includes("boiler-s3cret"));

  const alone = await check(file("config/gateway-config.example.json"), false);
  assert.equal(alone.ok, true);
  assert.ok(alone.lines.includes("serverList[2].password: warning: not decrypted: the gateway DeviceSecret is not known here"));
  assert.match(alone.lines.find((l) => l.includes("valid gateway config"))!, /\(2 warnings\)$/);
});

test("an unreadable file is reported on one line", async () => {
  const { ok, lines } = await check(file("test/fixtures/gateway/does-not-exist.json"), true);
  assert.equal(ok, false);
  assert.deepEqual(lines.length, 1);
  assert.match(lines[0]!, /does-not-exist\.json: cannot read the gateway config \(ENOENT\)$/);
});
