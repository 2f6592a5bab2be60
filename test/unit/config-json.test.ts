/** The strict JSON reader shared by the bootstrap config and pushed gateway config documents. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseJson, nestedDeeperThan, MAX_JSON_DEPTH } from "../../src/config/json.js";

function problems(text: string, maxDepth?: number): string[] {
  const r = parseJson(text, maxDepth === undefined ? {} : { maxDepth });
  return r.ok ? [] : r.problems.map((p) => `${JSON.stringify(p.path)} ${p.message}`);
}

test("valid JSON parses to the same value as JSON.parse", () => {
  const text = JSON.stringify({ a: [1, { b: "x\"y\\", c: null }], "k\"ey": { "": [[], {}] }, n: -1.5e3, t: true });
  const r = parseJson(text);
  assert.ok(r.ok);
  assert.deepEqual(r.value, JSON.parse(text));
  assert.deepEqual(parseJson(" 42 "), { ok: true, value: 42 });
});

test("a duplicate key is an error at its path, wherever it is, and however it is escaped", () => {
  assert.deepEqual(problems('{"mqtt": {"port": 1883, "host": "h", "port": 8883}}'), ['["mqtt","port"] duplicate key']);
  assert.deepEqual(problems('{"gateway": {}, "x": 1, "gateway": {}}'), ['["gateway"] duplicate key']);
  assert.deepEqual(problems('{"list": [{"a": 1}, {"a": 1, "b": [0, {"c": 1, "\\u0063": 2}]}]}'), ['["list",1,"b",1,"c"] duplicate key']);
  // the same key in sibling objects is no duplicate; a key equal to a value is no duplicate
  assert.deepEqual(problems('{"a": {"k": 1}, "b": {"k": "k"}, "k": ["k", "k"]}'), []);
  // a quote escaped inside a string does not end it
  assert.deepEqual(problems('{"a\\"": 1, "a": 2, "b\\\\": {"c": 1, "c": 2}}'), ['["b\\\\","c"] duplicate key']);
  assert.deepEqual(problems('{"a": 1, "a": 2, "a": 3}'), ['["a"] duplicate key']);
  assert.deepEqual(problems('{"\\u0061": 1, "a": 2}'), ['["a"] duplicate key']);
  // large objects: a duplicate far from its first occurrence, and no quadratic cost for many keys
  const many = (n: number, extra = "") => `{${Array.from({ length: n }, (_, i) => `"k${i}": ${i}`).join(", ")}${extra}}`;
  assert.deepEqual(problems(many(40, ', "k3": 0')), ['["k3"] duplicate key']);
  assert.deepEqual(problems(`{"outer": [${many(20)}, ${many(30, ', "k29": 1')}]}`), ['["outer",1,"k29"] duplicate key']);
  const flood = problems(`{${'"x": 1, '.repeat(10_000)}"y": 2}`);
  assert.deepEqual(flood, ['["x"] duplicate key']);
  const distinct = problems(`[${Array.from({ length: 500 }, (_, i) => `{"k${i}": 1, "k${i}": 2}`).join(",")}]`);
  assert.equal(distinct.length, 101);
  assert.equal(distinct.at(-1), "[] more than 100 duplicate keys; the rest are not listed");
  const t0 = performance.now();
  assert.deepEqual(problems(many(100_000)), []);
  assert.ok(performance.now() - t0 < 2000, "100000 keys in one object");
});

test("nesting deeper than the bound is refused without parsing, at any size", () => {
  assert.equal(MAX_JSON_DEPTH, 64);
  const nest = (n: number) => "[".repeat(n) + "]".repeat(n);
  assert.deepEqual(problems(nest(64)), []);
  assert.deepEqual(problems(nest(65)), ["[] nested deeper than 64 levels"]);
  assert.deepEqual(problems(nest(100_000)), ["[] nested deeper than 64 levels"]);
  assert.deepEqual(problems('{"a":'.repeat(70) + "1" + "}".repeat(70)), ["[] nested deeper than 64 levels"]);
  // brackets inside strings are not nesting
  assert.deepEqual(problems(JSON.stringify({ s: "[".repeat(1000) })), []);
  assert.deepEqual(problems(nest(5), 4), ["[] nested deeper than 4 levels"]);
});

test("invalid JSON is one problem at $, with line and column but without quoting the document", () => {
  const got = problems('{\n  "secret": "hunter2",\n  oops\n}');
  assert.equal(got.length, 1, got.join("\n"));
  assert.match(got[0]!, /^\[\] invalid JSON: .* at line 3 column 3$/);
  assert.ok(!got[0]!.includes("hunter2"));
  // a syntax error wins over a duplicate key the scanner may have seen in a broken document
  assert.match(problems('{"a": 1, "a": 2')[0]!, /^\[\] invalid JSON/);
  assert.match(problems("")[0]!, /^\[\] invalid JSON/);
  assert.match(problems('{"a": "unterminated')[0]!, /^\[\] invalid JSON/);
});

test("nestedDeeperThan walks a parsed value without recursion", () => {
  let deep: unknown = 1;
  for (let i = 0; i < 200_000; i++) deep = [deep];
  assert.equal(nestedDeeperThan(deep, 64), true);
  assert.equal(nestedDeeperThan({ a: [{ b: [] }] }, 4), false);
  assert.equal(nestedDeeperThan({ a: [{ b: [] }] }, 3), true);
  assert.equal(nestedDeeperThan("x", 0), false);
});

test("parseJson takes less than 3x JSON.parse on a 2 MB document", () => {
  const doc = {
    deviceList: Array.from({ length: 6000 }, (_, i) => ({
      productKey: "a1EnvMeter",
      deviceName: `meter-${i}`,
      deviceConfig: { slaveId: 1 + (i % 247), serverId: "5F1C0A2E9B7D4C1A8E3F6B2D9C4A7E10", note: "x".repeat(120), values: [i, i * 2.5, true, null] },
    })),
  };
  const text = JSON.stringify(doc, null, 1);
  assert.ok(text.length >= 2_000_000, `${text.length}`);
  // Interleaved, best of 11 each: what is compared is the work, not the load of a shared machine.
  let plain = Infinity;
  let strict = Infinity;
  for (let i = 0; i < 11; i++) {
    let t0 = performance.now();
    JSON.parse(text);
    plain = Math.min(plain, performance.now() - t0);
    t0 = performance.now();
    assert.ok(parseJson(text).ok);
    strict = Math.min(strict, performance.now() - t0);
  }
  assert.ok(strict < 3 * plain, `parseJson ${strict.toFixed(1)} ms, JSON.parse ${plain.toFixed(1)} ms`);
});
