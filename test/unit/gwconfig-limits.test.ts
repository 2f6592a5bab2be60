/** Hostile gateway config documents: duplicate keys, extreme nesting, huge strings. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { loadGatewayDocument, parseGatewayConfig, formatProblem, type ParseContext, type ParseResult } from "../../src/config/gateway/index.js";
import { ProblemLog, clipQuoted } from "../../src/config/gateway/problems.js";

const ctx: ParseContext = { serialPorts: { "0": "/dev/ttyUSB0" }, gatewayDeviceSecret: "0123456789abcdef0123456789abcdef" };
const exampleText = readFileSync(new URL("../../config/gateway-config.example.json", import.meta.url), "utf8");
const example = () => JSON.parse(exampleText);
const lines = (r: ParseResult): string[] => r.problems.map(formatProblem);
const load = (text: string): ParseResult => loadGatewayDocument(Buffer.from(text, "utf8"), ctx);

test("a duplicate key anywhere in the document rejects it, with the key's path", () => {
  // the example ends deviceList[0].deviceConfig with `"slaveId": 1`: give it twice
  const dup = exampleText.replace(/"slaveId": 1\n/, '"slaveId": 1, "slaveId": 2\n');
  assert.notEqual(dup, exampleText);
  const r = load(dup);
  assert.equal(r.fatal, true);
  assert.deepEqual(lines(r), ["deviceList[0].deviceConfig.slaveId: duplicate key"]);
  assert.deepEqual(r.config.devices, []);
  const twoSections = load(`{"deviceList": [], ${exampleText.trim().slice(1)}`);
  assert.deepEqual(lines(twoSections), ["deviceList: duplicate key"]);
  assert.equal(load(exampleText).fatal, false);
});

for (const depth of [65, 50_000, 100_000]) {
  test(`a document nested ${depth} levels deep is one clear problem, not a stack overflow`, () => {
    const arrays = load(`{"deviceList": ${"[".repeat(depth)}${"]".repeat(depth)}}`);
    assert.equal(arrays.fatal, true);
    assert.deepEqual(lines(arrays), ["$: nested deeper than 64 levels"]);
    const objects = load(`{"tslList": [${'{"a":'.repeat(depth)}1${"}".repeat(depth)}]}`);
    assert.deepEqual(lines(objects), ["$: nested deeper than 64 levels"]);
  });
}

test("an already parsed document is bounded in depth too, before anything recursive runs on it", () => {
  let deep: unknown = {};
  for (let i = 0; i < 100_000; i++) deep = { x: deep };
  const doc = example();
  doc.tslList[0].profile = deep;
  const r = parseGatewayConfig(doc, ctx);
  assert.equal(r.fatal, true);
  assert.deepEqual(lines(r), ["$: nested deeper than 64 levels"]);
});

test("a document larger than the bound is refused before it is decoded", () => {
  const big = Buffer.alloc(64 * 1024 * 1024 + 1, 0x20);
  const r = loadGatewayDocument(big, ctx);
  assert.equal(r.fatal, true);
  assert.deepEqual(lines(r), ["$: the document is 67108865 bytes; at most 67108864 are accepted"]);
});

test("a 1 MB string comes back clipped to 200 characters, with its length", () => {
  const huge = "A".repeat(1_048_576);
  const doc = example();
  doc.deviceList[0].deviceConfig.serverId = huge; // quoted in `no serverList entry "…"`
  doc.serverList[0].ip = huge; // quoted through JSON.stringify
  const r = parseGatewayConfig(doc, ctx);
  const out = lines(r);
  assert.ok(out.length >= 2, out.join("\n"));
  for (const line of out) assert.ok(line.length < 1000, `${line.length} characters: ${line.slice(0, 300)}`);
  const clipped = `"${"A".repeat(200)}…" (1048576 characters)`;
  assert.ok(out.some((l) => l === `deviceList[0].deviceConfig.serverId: no serverList entry ${clipped}`), out.join("\n"));
  assert.ok(out.some((l) => l.startsWith(`serverList[0].ip: ${clipped} is not a valid IP address`)), out.join("\n"));
  // the same from the document's text, and a key quoted in a path
  assert.ok(lines(load(JSON.stringify(doc))).every((l) => l.length < 1000));
  assert.deepEqual(lines(load(`{"deviceList": [{"${huge}": 1, "${huge}": 2}]}`)), [`deviceList[0][${clipped}]: duplicate key`]);
});

test("clipping: short quotes stay as they are; long unquoted runs are clipped too", () => {
  assert.equal(clipQuoted('no serverList entry "abc"'), 'no serverList entry "abc"');
  assert.equal(clipQuoted(`x "${"b".repeat(200)}" y`), `x "${"b".repeat(200)}" y`);
  assert.equal(clipQuoted(`x "${"b".repeat(201)}" y`), `x "${"b".repeat(200)}…" (201 characters) y`);
  // escapes count as the characters they stand for
  assert.equal(clipQuoted(`"${'\\"'.repeat(300)}"`), `"${'\\"'.repeat(200)}…" (300 characters)`);
  assert.equal(clipQuoted(`got ${"c".repeat(5000)}`), `got ${"c".repeat(200)}… (5000 characters)`);
  const log = new ProblemLog();
  log.error(["deviceList", 0, "d".repeat(300)], `"${"e".repeat(300)}" is wrong`);
  const [p] = log.problems();
  assert.equal(p!.path, `deviceList[0]["${"d".repeat(200)}…" (300 characters)]`);
  assert.equal(p!.message, `"${"e".repeat(200)}…" (300 characters) is wrong`);
});
