import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { alinkRequest, eventParams, memberBytes, packPostRequest, timedValue } from "../../src/cloud/aliyun/json.js";
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
    const params = '{"WF":{"value":' + encodeAlinkValue("double", 23) + ',"time":1524448722000},"Power":{"value":"on","time":1524448722000}}';
    const payload = alinkRequest("123", "thing.event.property.post", params);
    assert.equal(
      payload,
      '{"id":"123","version":"1.0","params":{"WF":{"value":23.0,"time":1524448722000},"Power":{"value":"on","time":1524448722000}},"method":"thing.event.property.post"}',
    );
    assert.deepEqual(JSON.parse(payload).params.WF, { value: 23, time: 1524448722000 });
  });

  test("pack post params have the structure of alink section 3.14", () => {
    const gw = { properties: [timedValue("Uptime", "5", 1)], events: [] };
    const sub = {
      identityJson: JSON.stringify({ productKey: "a1Sub", deviceName: "meter-01" }),
      properties: [timedValue("T", "1.0", 2)],
      events: [timedValue("alarm", '{"errorCode":"x"}', 3)],
    };
    const parsed = JSON.parse(packPostRequest("7", gw, [sub]));
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

  test("a pack post is the JSON of its structure, byte for byte, and each member's size is counted exactly", () => {
    const v = (id: string, value: unknown, time: number) => ({ tv: timedValue(id, JSON.stringify(value), time), id, value, time: Math.trunc(time) });
    const gwProps = [v("Uptime", 5, 1.9), v("\u00e9t\u00e9 \"q\"", "\u4e2d\u6587", 1733332800123)];
    const gwEvents = [v("boot", { why: "power" }, 7)];
    const subs = [
      { pk: "a1Sub", dn: "m-01", props: [v("T", 1.5, 2), v("H", -3, 2)], events: [] },
      { pk: "a1Sub", dn: "m-02", props: [], events: [v("alarm", { code: 4 }, 3), v("alarm2", [1, 2], 3)] },
    ];
    const map = (list: ReturnType<typeof v>[]) => Object.fromEntries(list.map((x) => [x.id, { value: x.value, time: x.time }]));
    const expected = JSON.stringify({
      id: "9",
      version: "1.0",
      params: {
        properties: map(gwProps),
        events: map(gwEvents),
        subDevices: subs.map((s) => ({ identity: { productKey: s.pk, deviceName: s.dn }, properties: map(s.props), events: map(s.events) })),
      },
      method: "thing.event.property.pack.post",
    });
    const payload = packPostRequest(
      "9",
      { properties: gwProps.map((x) => x.tv), events: gwEvents.map((x) => x.tv) },
      subs.map((s) => ({ identityJson: JSON.stringify({ productKey: s.pk, deviceName: s.dn }), properties: s.props.map((x) => x.tv), events: s.events.map((x) => x.tv) })),
    );
    assert.equal(payload, expected);
    for (const x of [...gwProps, ...gwEvents]) {
      const member = `${JSON.stringify(x.id)}:${JSON.stringify({ value: x.value, time: x.time })}`;
      assert.equal(memberBytes(x.tv), Buffer.byteLength(member), member);
    }
    // Without gateway values the gateway's maps are left out.
    assert.equal(packPostRequest("1", { properties: [], events: [] }, []), '{"id":"1","version":"1.0","params":{"subDevices":[]},"method":"thing.event.property.pack.post"}');
  });

  test("event post params", () => {
    assert.equal(eventParams('{"errorCode":"error"}', 1524448722000.7), '{"value":{"errorCode":"error"},"time":1524448722000}');
  });
});
