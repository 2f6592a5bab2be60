import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { compileTsl, type Coerced } from "../../src/things/tsl.js";
import type { TslDocument } from "../../src/things/tsl-types.js";

const doc: TslDocument = {
  schema: "https://iotx-tsl.oss-ap-southeast-1.aliyuncs.com/schema.json",
  profile: { productKey: "a1Meter" },
  properties: [
    { identifier: "Level", accessMode: "rw", dataType: { type: "int", specs: { min: "-10", max: "100", step: "1" } } },
    { identifier: "Count", accessMode: "r", dataType: { type: "int", specs: {} } },
    { identifier: "Temp", accessMode: "r", dataType: { type: "float", specs: { min: "-40", max: "125" } } },
    { identifier: "Setpoint", accessMode: "rw", dataType: { type: "double", specs: { min: "0", max: "200", step: "0.5" } } },
    { identifier: "Ratio", accessMode: "rw", dataType: { type: "double", specs: { min: "0", max: "0.3" } } },
    { identifier: "Power", accessMode: "rw", dataType: { type: "bool", specs: { "0": "off", "1": "on" } } },
    { identifier: "Mode", accessMode: "rw", dataType: { type: "enum", specs: { "0": "auto", "1": "manual", "5": "service" } } },
    { identifier: "Label", accessMode: "rw", dataType: { type: "text", specs: { length: "8" } } },
    { identifier: "Note", accessMode: "r", dataType: { type: "text", specs: {} } },
    { identifier: "Stamp", accessMode: "rw", dataType: { type: "date", specs: {} } },
    {
      identifier: "Pos",
      accessMode: "rw",
      dataType: {
        type: "struct",
        specs: [
          { identifier: "x", name: "x", dataType: { type: "float", specs: { min: "-1", max: "1" } } },
          { identifier: "tag", name: "tag", dataType: { type: "text", specs: { length: "4" } } },
        ],
      },
    },
    { identifier: "Samples", accessMode: "rw", dataType: { type: "array", specs: { size: "3", item: { type: "int" } } } },
    { identifier: "Implicit", dataType: { type: "int", specs: {} } },
    { identifier: "Hidden", dataType: { type: "int", specs: {} } },
  ],
  events: [
    {
      identifier: "alarm",
      type: "alert",
      outputData: [
        { identifier: "errorCode", name: "code", dataType: { type: "text", specs: { length: "255" } } },
        { identifier: "level", name: "level", dataType: { type: "int", specs: { min: "0", max: "3" } } },
      ],
      method: "thing.event.alarm.post",
    },
  ],
  services: [
    {
      identifier: "SetWeight",
      callType: "async",
      inputData: [{ identifier: "NewWeight", dataType: { type: "double", specs: { unit: "kg", min: "0", max: "200", step: "1" } } }],
      outputData: [
        { identifier: "OldWeight", dataType: { type: "double", specs: { min: "0", max: "200", step: "1" } } },
        { identifier: "CollectTime", dataType: { type: "text", specs: { length: "2048" } } },
      ],
    },
    { identifier: "Reboot", callType: "sync", inputData: [], outputData: "" },
    { identifier: "set", inputData: [{ identifier: "Implicit", dataType: { type: "int", specs: {} } }], outputData: [] },
    { identifier: "get", inputData: ["Level", "Temp"], outputData: [] },
  ],
};

const tsl = compileTsl(doc);

function value(r: Coerced): unknown {
  assert.ok(r.ok, `expected ok, got ${r.ok ? "" : r.reason}`);
  return r.value;
}

function reason(r: Coerced): string {
  assert.ok(!r.ok, `expected a rejection, got ${JSON.stringify(r.ok && r.value)}`);
  return r.reason;
}

describe("compileTsl", () => {
  test("reads the product key and reports no problem for a clean model", () => {
    assert.equal(tsl.productKey, "a1Meter");
    assert.deepEqual(tsl.problems, []);
  });

  test("reports definition problems without throwing", () => {
    const bad = compileTsl({
      profile: { productKey: "p" },
      properties: [
        { identifier: "A", dataType: { type: "int", specs: { min: "abc", max: "5" } } },
        { identifier: "B", dataType: { type: "int", specs: { min: "9", max: "1" } } },
        { identifier: "C", dataType: { type: "matrix" } },
        { identifier: "D", dataType: { type: "int", specs: { max: "1" } } },
        { identifier: "D", dataType: { type: "int", specs: { max: "2" } } },
        { dataType: { type: "int" } } as never,
      ],
    });
    const all = bad.problems.join("\n");
    assert.equal(bad.problems.length, 5, all);
    assert.match(all, /properties\[0\]\.dataType\.specs\.min: "abc" is not a number/);
    assert.match(all, /min 9 is greater than max 1/);
    assert.match(all, /unsupported data type "matrix"/);
    assert.match(all, /properties\[4\]: duplicate identifier "D"/);
    assert.match(all, /properties\[5\]: definition without identifier/);
    // the unreadable min is ignored while max still applies
    assert.equal(value(bad.toTsl("A", -1000)), -1000);
    assert.match(reason(bad.toTsl("A", 6)), /above max 5/);
    // an inverted range is not checked at all
    assert.equal(value(bad.toTsl("B", 1e6)), 1e6);
    assert.match(reason(bad.toTsl("C", 1)), /unsupported data type/);
    // the later duplicate wins
    assert.equal(value(bad.toTsl("D", 2)), 2);
  });
});

describe("uplink toTsl", () => {
  test("int rounds, converts bigint and booleans, checks int32 and min/max", () => {
    assert.equal(value(tsl.toTsl("Level", 12.4)), 12);
    assert.equal(value(tsl.toTsl("Level", 12.5)), 13);
    assert.equal(value(tsl.toTsl("Level", -0.4)), 0);
    assert.ok(Object.is(value(tsl.toTsl("Level", -0.4)), 0), "-0 folds into 0");
    assert.equal(value(tsl.toTsl("Level", 42n)), 42);
    assert.equal(value(tsl.toTsl("Level", true)), 1);
    assert.equal(value(tsl.toTsl("Count", 2147483647)), 2147483647);
    assert.equal(value(tsl.toTsl("Count", -2147483648n)), -2147483648);
    assert.match(reason(tsl.toTsl("Count", 2147483648)), /outside int32/);
    assert.match(reason(tsl.toTsl("Count", 2147483647.6)), /outside int32/);
    assert.match(reason(tsl.toTsl("Count", 2147483648n)), /outside int32/);
    assert.match(reason(tsl.toTsl("Count", -(2n ** 40n))), /outside int32/);
    assert.match(reason(tsl.toTsl("Level", 100.6)), /above max 100/);
    assert.match(reason(tsl.toTsl("Level", -11)), /below min -10/);
    assert.match(reason(tsl.toTsl("Level", "12")), /not a number/);
    assert.match(reason(tsl.toTsl("Level", NaN)), /not a finite number/);
    assert.match(reason(tsl.toTsl("Level", Infinity)), /not a finite number/);
  });

  test("step is not enforced (the seed's own SetWeight example sends 100.8 with step 1)", () => {
    assert.equal(value(tsl.toTsl("Setpoint", 10.3)), 10.3);
    assert.deepEqual(value(tsl.checkServiceInputs("SetWeight", { NewWeight: 100.8 })), { NewWeight: 100.8 });
  });

  test("float and double stay numbers with range checks; float32 noise is trimmed", () => {
    assert.equal(value(tsl.toTsl("Temp", 21.5)), 21.5);
    assert.equal(value(tsl.toTsl("Temp", Math.fround(0.1))), 0.1);
    assert.equal(value(tsl.toTsl("Temp", Math.fround(-12.3))), -12.3);
    assert.equal(value(tsl.toTsl("Temp", 12)), 12);
    assert.equal(value(tsl.toTsl("Setpoint", 123n)), 123);
    assert.equal(value(tsl.toTsl("Temp", true)), 1);
    assert.equal(value(tsl.toTsl("Setpoint", 0.1 + 0.2)), 0.30000000000000004, "double is not trimmed");
    assert.match(reason(tsl.toTsl("Temp", 125.5)), /above max 125/);
    assert.match(reason(tsl.toTsl("Temp", -40.01)), /below min -40/);
    assert.match(reason(tsl.toTsl("Setpoint", "1.5")), /not a number/);
    assert.match(reason(tsl.toTsl("Temp", NaN)), /not a finite number/);
  });

  test("a value that misses a bound only by binary noise is clamped, a real excess is rejected", () => {
    assert.equal(value(tsl.toTsl("Ratio", 3 * 0.1)), 0.3);
    assert.match(reason(tsl.toTsl("Ratio", 0.3001)), /above max 0.3/);
    assert.equal(value(tsl.toTsl("Ratio", -1e-17)), 0);
  });

  test("bool maps to 0/1", () => {
    assert.equal(value(tsl.toTsl("Power", true)), 1);
    assert.equal(value(tsl.toTsl("Power", false)), 0);
    assert.equal(value(tsl.toTsl("Power", 0)), 0);
    assert.equal(value(tsl.toTsl("Power", 7)), 1, "a register read as bool: non-zero is 1");
    assert.equal(value(tsl.toTsl("Power", 0n)), 0);
    assert.equal(value(tsl.toTsl("Power", "1")), 1);
    assert.equal(value(tsl.toTsl("Power", "false")), 0);
    assert.match(reason(tsl.toTsl("Power", "yes")), /not a bool/);
    assert.match(reason(tsl.toTsl("Power", NaN)), /not a bool/);
  });

  test("enum must be an integer among the listed keys", () => {
    assert.equal(value(tsl.toTsl("Mode", 5)), 5);
    assert.equal(value(tsl.toTsl("Mode", 1n)), 1);
    assert.equal(value(tsl.toTsl("Mode", 3 * (1 / 3))), 1);
    assert.match(reason(tsl.toTsl("Mode", 2)), /not one of the enum values 0, 1, 5/);
    assert.match(reason(tsl.toTsl("Mode", 1.5)), /not an integer/);
    assert.match(reason(tsl.toTsl("Mode", "1")), /not a number/);
  });

  test("text is a string within specs.length bytes (default 10240)", () => {
    assert.equal(value(tsl.toTsl("Label", "pump-01")), "pump-01");
    assert.equal(value(tsl.toTsl("Label", 1234)), "1234");
    assert.equal(value(tsl.toTsl("Label", "12345678")), "12345678");
    assert.match(reason(tsl.toTsl("Label", "123456789")), /9 bytes exceeds length 8/);
    assert.match(reason(tsl.toTsl("Label", "温度计")), /9 bytes exceeds length 8/, "counted in UTF-8 bytes");
    assert.equal(value(tsl.toTsl("Note", "x".repeat(10240))), "x".repeat(10240));
    assert.match(reason(tsl.toTsl("Note", "x".repeat(10241))), /exceeds length 10240/);
    assert.match(reason(tsl.toTsl("Label", { a: 1 })), /not text/);
  });

  test("date is epoch ms as a string of digits", () => {
    assert.equal(value(tsl.toTsl("Stamp", 1536228947682)), "1536228947682");
    assert.equal(value(tsl.toTsl("Stamp", 1536228947682n)), "1536228947682");
    assert.equal(value(tsl.toTsl("Stamp", new Date(1536228947682))), "1536228947682");
    assert.equal(value(tsl.toTsl("Stamp", "1536228947682")), "1536228947682");
    assert.match(reason(tsl.toTsl("Stamp", "2018-09-06")), /not an epoch time/);
    assert.match(reason(tsl.toTsl("Stamp", -5)), /not an epoch time/);
    assert.match(reason(tsl.toTsl("Stamp", new Date(NaN))), /not an epoch time/);
  });

  test("struct members are coerced one by one; unknown members are rejected, missing ones allowed", () => {
    assert.deepEqual(value(tsl.toTsl("Pos", { x: Math.fround(0.1), tag: "ab" })), { x: 0.1, tag: "ab" });
    assert.deepEqual(value(tsl.toTsl("Pos", { x: 1 })), { x: 1 });
    assert.match(reason(tsl.toTsl("Pos", { x: 2 })), /^x: 2 is above max 1/);
    assert.match(reason(tsl.toTsl("Pos", { x: 0, y: 1 })), /unknown member "y"/);
    assert.match(reason(tsl.toTsl("Pos", [1])), /must be object/);
    assert.match(reason(tsl.toTsl("Pos", null)), /must be object/);
  });

  test("array items are coerced by the item type within specs.size; typed arrays are accepted", () => {
    assert.deepEqual(value(tsl.toTsl("Samples", [1.4, 2, 3n])), [1, 2, 3]);
    assert.deepEqual(value(tsl.toTsl("Samples", new Int16Array([4, -5]))), [4, -5]);
    assert.deepEqual(value(tsl.toTsl("Samples", [])), []);
    assert.match(reason(tsl.toTsl("Samples", [1, 2, 3, 4])), /must NOT have more than 3 items/);
    assert.match(reason(tsl.toTsl("Samples", [1, "x"])), /^\[1\]: .*not a number/);
    assert.match(reason(tsl.toTsl("Samples", 5)), /must be array/);
  });

  test("an unknown identifier is a rejection", () => {
    assert.match(reason(tsl.toTsl("Nope", 1)), /unknown property "Nope"/);
  });
});

describe("downlink fromCloud", () => {
  test("numeric strings are accepted for numeric types (P17), junk is not", () => {
    assert.equal(value(tsl.fromCloud("Setpoint", "30.5")), 30.5);
    assert.equal(value(tsl.fromCloud("Setpoint", " 30 ")), 30);
    assert.equal(value(tsl.fromCloud("Setpoint", 1e2)), 100);
    assert.equal(value(tsl.fromCloud("Temp", "-1.5e1")), -15);
    assert.equal(value(tsl.fromCloud("Level", "42")), 42);
    assert.equal(value(tsl.fromCloud("Level", "42.0")), 42);
    assert.match(reason(tsl.fromCloud("Level", "42.5")), /not an integer/);
    assert.match(reason(tsl.fromCloud("Level", 42.5)), /not an integer/);
    assert.match(reason(tsl.fromCloud("Setpoint", "abc")), /does not parse/);
    assert.match(reason(tsl.fromCloud("Setpoint", "0x10")), /does not parse/);
    assert.match(reason(tsl.fromCloud("Setpoint", "")), /does not parse/);
    assert.match(reason(tsl.fromCloud("Setpoint", null)), /null.*not a number/);
    assert.match(reason(tsl.fromCloud("Setpoint", true)), /not a number/);
  });

  test("range, int32, enum keys, bool, text and date are checked", () => {
    assert.match(reason(tsl.fromCloud("Setpoint", "250")), /above max 200/);
    assert.match(reason(tsl.fromCloud("Level", -11)), /below min -10/);
    assert.match(reason(tsl.fromCloud("Count", "2147483648")), /outside int32/);
    assert.equal(value(tsl.fromCloud("Mode", "5")), 5);
    assert.match(reason(tsl.fromCloud("Mode", 2)), /not one of the enum values/);
    assert.equal(value(tsl.fromCloud("Power", "1")), 1);
    assert.equal(value(tsl.fromCloud("Power", true)), 1);
    assert.equal(value(tsl.fromCloud("Power", 0)), 0);
    assert.match(reason(tsl.fromCloud("Power", 2)), /not a bool/);
    assert.match(reason(tsl.fromCloud("Power", "on")), /not a bool/);
    assert.equal(value(tsl.fromCloud("Label", "abc")), "abc");
    assert.match(reason(tsl.fromCloud("Label", "abcdefghi")), /exceeds length 8/);
    assert.match(reason(tsl.fromCloud("Label", 12)), /not a string/);
    assert.equal(value(tsl.fromCloud("Stamp", "1536228947682")), "1536228947682");
    assert.equal(value(tsl.fromCloud("Stamp", 1536228947682)), "1536228947682");
    assert.match(reason(tsl.fromCloud("Stamp", 1.5)), /not an epoch time/);
    assert.match(reason(tsl.fromCloud("Stamp", "12:00")), /not an epoch time/);
  });

  test("struct and array values from the cloud coerce their members", () => {
    assert.deepEqual(value(tsl.fromCloud("Pos", { x: "0.5", tag: "a" })), { x: 0.5, tag: "a" });
    assert.match(reason(tsl.fromCloud("Pos", { x: "2" })), /x: 2 is above max 1/);
    assert.deepEqual(value(tsl.fromCloud("Samples", ["1", 2])), [1, 2]);
    assert.match(reason(tsl.fromCloud("Samples", ["1.5"])), /\[0\]: 1.5 is not an integer/);
  });
});

describe("property set", () => {
  test("writability follows accessMode, and the set service for properties without one", () => {
    assert.equal(tsl.isWritable("Setpoint"), true);
    assert.equal(tsl.isWritable("Temp"), false);
    assert.equal(tsl.isWritable("Implicit"), true);
    assert.equal(tsl.isWritable("Hidden"), false);
    assert.equal(tsl.isWritable("Nope"), false);
  });

  test("a valid set yields coerced values", () => {
    const r = tsl.checkPropertySet({ Setpoint: "30.5", Power: "1", Mode: 0 });
    assert.ok(r.ok);
    assert.deepEqual(r.values, { Setpoint: 30.5, Power: 1, Mode: 0 });
  });

  test("unknown identifier, read-only property and out-of-range value are each reported", () => {
    const r = tsl.checkPropertySet({ Nope: 1, Temp: 20, Setpoint: "250", Level: 5 });
    assert.ok(!r.ok);
    assert.deepEqual(
      r.problems.map((p) => [p.identifier, p.kind]),
      [
        ["Nope", "unknown"],
        ["Temp", "read-only"],
        ["Setpoint", "invalid"],
      ],
    );
    assert.match(r.problems[2]!.reason, /250 is above max 200/);
    const notObject = tsl.checkPropertySet([1]);
    assert.ok(!notObject.ok);
    assert.equal(notObject.problems[0]!.kind, "invalid");
  });
});

describe("events and services", () => {
  test("checkEvent coerces outputs and rejects unknown events, unknown outputs and bad values", () => {
    assert.deepEqual(value(tsl.checkEvent("alarm", { errorCode: "E42", level: 2.2 })), { errorCode: "E42", level: 2 });
    assert.match(reason(tsl.checkEvent("alarm", { level: 4 })), /level: 4 is above max 3/);
    assert.match(reason(tsl.checkEvent("alarm", { other: 1 })), /unknown member "other"/);
    assert.match(reason(tsl.checkEvent("fire", {})), /unknown event "fire"/);
    assert.equal(tsl.event("alarm")?.method, "thing.event.alarm.post");
    assert.equal(tsl.event("alarm")?.dataType.type, "struct");
  });

  test("service inputs: all required, strings coerced; outputs: partial allowed, checked", () => {
    assert.deepEqual(value(tsl.checkServiceInputs("SetWeight", { NewWeight: "100.8" })), { NewWeight: 100.8 });
    assert.match(reason(tsl.checkServiceInputs("SetWeight", {})), /missing member "NewWeight"/);
    assert.match(reason(tsl.checkServiceInputs("SetWeight", { NewWeight: 201 })), /above max 200/);
    assert.match(reason(tsl.checkServiceInputs("Nope", {})), /unknown service "Nope"/);
    assert.deepEqual(value(tsl.checkServiceInputs("Reboot", undefined)), {});
    assert.deepEqual(value(tsl.checkServiceOutputs("SetWeight", { OldWeight: 100.101, CollectTime: "1536228947682" })), {
      OldWeight: 100.101,
      CollectTime: "1536228947682",
    });
    assert.deepEqual(value(tsl.checkServiceOutputs("SetWeight", { OldWeight: 5 })), { OldWeight: 5 });
    assert.match(reason(tsl.checkServiceOutputs("SetWeight", { OldWeight: -1 })), /OldWeight: -1 is below min 0/);
    assert.deepEqual(value(tsl.checkServiceOutputs("Reboot", {})), {}, "outputData \"\" means no outputs (C17)");
    assert.match(reason(tsl.checkServiceOutputs("Reboot", { x: 1 })), /unknown member "x"/);
    assert.equal(tsl.service("Reboot")?.callType, "sync");
    assert.equal(tsl.service("SetWeight")?.callType, "async");
  });
});
