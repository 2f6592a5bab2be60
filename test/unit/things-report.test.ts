import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ReportPolicy, sameTslValue, type PointRef } from "../../src/things/report.js";
import { compileTsl } from "../../src/things/tsl.js";
import { captureLogger } from "../helpers/log-capture.js";

const tsl = compileTsl({
  profile: { productKey: "a1Meter" },
  properties: [
    { identifier: "Temp", accessMode: "r", dataType: { type: "float", specs: { min: "-40", max: "125" } } },
    { identifier: "Count", accessMode: "r", dataType: { type: "int", specs: { min: "0", max: "1000" } } },
    { identifier: "Pos", accessMode: "r", dataType: { type: "array", specs: { size: "3", item: { type: "int" } } } },
  ],
});

describe("ReportPolicy", () => {
  const dev = "a1Meter/meter-01";

  test("trigger 1 reports every sample, equal or not", () => {
    const policy = new ReportPolicy({ logger: captureLogger("info").logger });
    const p: PointRef = { deviceKey: dev, identifier: "Count", trigger: 1 };
    const decisions = [5, 5, 5, 6].map((v) => policy.decide(p, tsl.toTsl("Count", v)));
    assert.deepEqual(decisions, ["report", "report", "report", "report"]);
    assert.deepEqual(policy.counters(), { accepted: 4, reported: 4, unchanged: 0, dropped: 0 });
  });

  test("trigger 2 reports only when the converted value changes", () => {
    const policy = new ReportPolicy({ logger: captureLogger("info").logger });
    const p: PointRef = { deviceKey: dev, identifier: "Count", trigger: 2 };
    // 5.2 and 4.8 both convert to 5: unchanged although the raw values differ
    const decisions = [5, 5.2, 4.8, 6, 6, 5].map((v) => policy.decide(p, tsl.toTsl("Count", v)));
    assert.deepEqual(decisions, ["report", "unchanged", "unchanged", "report", "unchanged", "report"]);
    assert.deepEqual(policy.counters(), { accepted: 6, reported: 3, unchanged: 3, dropped: 0 });
  });

  test("trigger 2 compares arrays by content", () => {
    const policy = new ReportPolicy({ logger: captureLogger("info").logger });
    const p: PointRef = { deviceKey: dev, identifier: "Pos", trigger: 2 };
    const decisions = [[1, 2], [1, 2], [1, 3], [1, 3, 0]].map((v) => policy.decide(p, tsl.toTsl("Pos", v)));
    assert.deepEqual(decisions, ["report", "unchanged", "report", "report"]);
  });

  test("reset makes the next sample of each point of that device report, other devices untouched", () => {
    const policy = new ReportPolicy({ logger: captureLogger("info").logger });
    const a: PointRef = { deviceKey: dev, identifier: "Count", trigger: 2 };
    const b: PointRef = { deviceKey: dev, identifier: "Temp", trigger: 2 };
    const other: PointRef = { deviceKey: "a1Meter/meter-02", identifier: "Count", trigger: 2 };
    for (const p of [a, b, other]) assert.equal(policy.decide(p, tsl.toTsl(p.identifier, 7)), "report");
    for (const p of [a, b, other]) assert.equal(policy.decide(p, tsl.toTsl(p.identifier, 7)), "unchanged");
    policy.reset(dev);
    assert.equal(policy.decide(a, tsl.toTsl("Count", 7)), "report");
    assert.equal(policy.decide(b, tsl.toTsl("Temp", 7)), "report");
    assert.equal(policy.decide(other, tsl.toTsl("Count", 7)), "unchanged");
    assert.equal(policy.decide(a, tsl.toTsl("Count", 7)), "unchanged");
    policy.resetAll();
    assert.equal(policy.decide(other, tsl.toTsl("Count", 7)), "report");
  });

  test("a violating value is dropped, counted per point and logged once across many samples", () => {
    const log = captureLogger("info");
    const lines = log.lines();
    let now = 1_000_000;
    const policy = new ReportPolicy({ logger: log.logger, now: () => now });
    const p: PointRef = { deviceKey: dev, identifier: "Temp", trigger: 1 };
    for (let i = 0; i < 50; i++) assert.equal(policy.decide(p, tsl.toTsl("Temp", 200 + i), 200 + i), "rejected");
    assert.equal(lines.length, 1);
    assert.equal(lines[0]!.level, "warn");
    assert.equal(lines[0]!.device, dev);
    assert.equal(lines[0]!.identifier, "Temp");
    assert.match(String(lines[0]!.reason), /200 is above max 125/);
    assert.equal(policy.dropped(dev, "Temp"), 50);
    assert.equal(policy.dropped(dev, "Count"), 0);
    assert.deepEqual(policy.droppedPoints(), [{ deviceKey: dev, identifier: "Temp", dropped: 50 }]);
    assert.deepEqual(policy.counters(), { accepted: 0, reported: 0, unchanged: 0, dropped: 50 });
    // a valid sample in between re-arms the warning (once the default 10 min interval has passed)
    assert.equal(policy.decide(p, tsl.toTsl("Temp", 20)), "report");
    now += 600_000;
    for (let i = 0; i < 10; i++) policy.decide(p, tsl.toTsl("Temp", -50));
    assert.equal(lines.length, 2);
    assert.match(String(lines[1]!.reason), /below min -40/);
    assert.equal(policy.dropped(dev, "Temp"), 60);
    // invalid without anything valid in between: still silent, however much time passes
    now += 10 * 600_000;
    policy.decide(p, tsl.toTsl("Temp", -50));
    assert.equal(lines.length, 2);
  });

  test("a value flapping around a limit warns at most once per interval", () => {
    const log = captureLogger("info");
    const lines = log.lines();
    let now = 0;
    const policy = new ReportPolicy({ logger: log.logger, warnIntervalMs: 1000, now: () => now });
    const p: PointRef = { deviceKey: dev, identifier: "Count", trigger: 2 };
    for (let i = 0; i < 20; i++) {
      now += 10;
      policy.decide(p, tsl.toTsl("Count", i % 2 ? 5 : 5000));
    }
    assert.equal(lines.length, 1);
    now += 1000;
    policy.decide(p, tsl.toTsl("Count", 5));
    policy.decide(p, tsl.toTsl("Count", 5000));
    assert.equal(lines.length, 2);
    assert.equal(policy.dropped(dev, "Count"), 11);
  });

  test("an invalid sample does not replace the last reported value", () => {
    const policy = new ReportPolicy({ logger: captureLogger("info").logger });
    const p: PointRef = { deviceKey: dev, identifier: "Count", trigger: 2 };
    assert.equal(policy.decide(p, tsl.toTsl("Count", 9)), "report");
    assert.equal(policy.decide(p, tsl.toTsl("Count", -1)), "rejected");
    assert.equal(policy.decide(p, tsl.toTsl("Count", 9)), "unchanged");
  });

  test("forget drops the device's state and counts", () => {
    const policy = new ReportPolicy({ logger: captureLogger("info").logger });
    const p: PointRef = { deviceKey: dev, identifier: "Count", trigger: 2 };
    policy.decide(p, tsl.toTsl("Count", 9));
    policy.decide(p, tsl.toTsl("Count", -9));
    policy.forget(dev);
    assert.equal(policy.dropped(dev, "Count"), 0);
    assert.equal(policy.decide(p, tsl.toTsl("Count", 9)), "report");
  });

  test("sameTslValue", () => {
    assert.equal(sameTslValue(1, 1), true);
    assert.equal(sameTslValue("1", 1), false);
    assert.equal(sameTslValue({ a: [1, { b: "x" }] }, { a: [1, { b: "x" }] }), true);
    assert.equal(sameTslValue({ a: 1 }, { b: 1 }), false);
    assert.equal(sameTslValue({ a: 1 }, { a: 1, b: 2 }), false);
    assert.equal(sameTslValue([1], { 0: 1 }), false);
  });
});
