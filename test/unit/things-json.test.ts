import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { alinkRequest, eventParams, packParams, timedMember } from "../../src/cloud/aliyun/json.js";
import { encodeValue as encodeAlinkValue, formatFloat } from "../../src/things/json.js";
import type { TslDataType } from "../../src/things/tsl-types.js";

describe("formatFloat", () => {
  test("float/double values always carry a decimal point", () => {
    const cases: Array<[number, string]> = [
      [12, "12.0"],
      [0, "0.0"],
      [-0, "0.0"],
      [-3, "-3.0"],
      [12.5, "12.5"],
      [0.1, "0.1"],
      [1e21, "1.0e+21"],
      [1.5e21, "1.5e+21"],
      [1e-7, "1.0e-7"],
      [-2.5e-8, "-2.5e-8"],
      [Number.MAX_SAFE_INTEGER, "9007199254740991.0"],
    ];
    for (const [n, s] of cases) {
      assert.equal(formatFloat(n), s, `formatFloat(${n})`);
      assert.equal(JSON.parse(s), n === 0 ? 0 : n, `${s} parses back`);
    }
  });

  test("non-finite numbers become null rather than invalid JSON", () => {
    assert.equal(formatFloat(NaN), "null");
    assert.equal(formatFloat(Infinity), "null");
  });
});

describe("encodeAlinkValue", () => {
  test("scalar types by name", () => {
    assert.equal(encodeAlinkValue("float", 12), "12.0");
    assert.equal(encodeAlinkValue("double", 23.6), "23.6");
    assert.equal(encodeAlinkValue("int", 12), "12");
    assert.equal(encodeAlinkValue("bool", 1), "1");
    assert.equal(encodeAlinkValue("enum", 5), "5");
    assert.equal(encodeAlinkValue("text", 'a"b\n'), '"a\\"b\\n"');
    assert.equal(encodeAlinkValue("date", "1536228947682"), '"1536228947682"');
    assert.equal(encodeAlinkValue(undefined, 12), "12");
  });

  test("struct members and array items keep their own types, floats with a decimal point", () => {
    const struct: TslDataType = {
      type: "struct",
      specs: [
        { identifier: "x", dataType: { type: "double" } },
        { identifier: "n", dataType: { type: "int" } },
        { identifier: "s", dataType: { type: "text" } },
      ],
    };
    assert.equal(encodeAlinkValue(struct, { x: 1, n: 2, s: "3" }), '{"x":1.0,"n":2,"s":"3"}');
    const floats: TslDataType = { type: "array", specs: { size: "4", item: { type: "float" } } };
    assert.equal(encodeAlinkValue(floats, [1, 2.5, -3]), "[1.0,2.5,-3.0]");
    const structs: TslDataType = { type: "array", specs: { size: "2", item: struct } };
    assert.equal(encodeAlinkValue(structs, [{ x: 0 }, { n: 1 }]), '[{"x":0.0},{"n":1}]');
    assert.equal(encodeAlinkValue({ type: "double" }, 7), "7.0");
  });

  test("agrees with JSON.parse for every type", () => {
    const values: Array<[string, unknown]> = [
      ["int", -2147483648],
      ["double", 100.101],
      ["float", 3.4e38],
      ["text", "温度 ✓ \u0000"],
      ["date", "0"],
    ];
    for (const [t, v] of values) assert.deepEqual(JSON.parse(encodeAlinkValue(t, v)), v, t);
  });
});

describe("message builders", () => {
  test("property.post params and envelope", () => {
    const params = `{${[timedMember("WF", encodeAlinkValue("double", 23), 1524448722000), timedMember("Power", '"on"', 1524448722000)].join(",")}}`;
    const payload = alinkRequest("123", "thing.event.property.post", params);
    assert.equal(
      payload,
      '{"id":"123","version":"1.0","params":{"WF":{"value":23.0,"time":1524448722000},"Power":{"value":"on","time":1524448722000}},"method":"thing.event.property.post"}',
    );
    assert.deepEqual(JSON.parse(payload).params.WF, { value: 23, time: 1524448722000 });
  });

  test("pack post params have the structure of alink section 3.14", () => {
    const gw = { properties: [timedMember("Uptime", "5", 1)], events: [] };
    const sub = {
      identityJson: JSON.stringify({ productKey: "a1Sub", deviceName: "meter-01" }),
      properties: [timedMember("T", "1.0", 2)],
      events: [timedMember("alarm", '{"errorCode":"x"}', 3)],
    };
    const parsed = JSON.parse(alinkRequest("7", "thing.event.property.pack.post", packParams(gw, [sub])));
    assert.deepEqual(parsed, {
      id: "7",
      version: "1.0",
      params: {
        properties: { Uptime: { value: 5, time: 1 } },
        subDevices: [
          {
            identity: { productKey: "a1Sub", deviceName: "meter-01" },
            properties: { T: { value: 1, time: 2 } },
            events: { alarm: { value: { errorCode: "x" }, time: 3 } },
          },
        ],
      },
      method: "thing.event.property.pack.post",
    });
  });

  test("event post params", () => {
    assert.equal(eventParams('{"errorCode":"error"}', 1524448722000.7), '{"value":{"errorCode":"error"},"time":1524448722000}');
  });
});
