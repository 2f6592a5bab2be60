import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { FieldError } from "../../src/field/driver.js";
import { bigintToWords, BuiltinType, fromOpcuaValue, toOpcuaValue, wordsToBigint } from "../../src/field/opcua/values.js";

function fieldCode(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof FieldError, `expected FieldError, got ${String(err)}`);
    return err.code;
  }
  assert.fail("expected a FieldError");
}

describe("64-bit words", () => {
  test("round-trip signed and unsigned extremes", () => {
    for (const v of [0n, 1n, -1n, 2n ** 63n - 1n, -(2n ** 63n), 1234567890123456789n]) {
      assert.equal(wordsToBigint(bigintToWords(v), true), v);
    }
    for (const v of [0n, 2n ** 64n - 1n, 2n ** 32n, 2n ** 32n - 1n]) {
      assert.equal(wordsToBigint(bigintToWords(v), false), v);
    }
  });
  test("words are node-opcua's [high, low] unsigned 32-bit pair", () => {
    assert.deepEqual(bigintToWords(-1n), [0xffffffff, 0xffffffff]);
    assert.deepEqual(bigintToWords(2n ** 32n + 5n), [1, 5]);
  });
});

describe("toOpcuaValue", () => {
  test("integers are range-checked for each width", () => {
    assert.equal(toOpcuaValue(BuiltinType.Int16, -32768, "p").value, -32768);
    assert.equal(fieldCode(() => toOpcuaValue(BuiltinType.Int16, 32768, "p")), "badRequest");
    assert.equal(fieldCode(() => toOpcuaValue(BuiltinType.Byte, -1, "p")), "badRequest");
    assert.equal(fieldCode(() => toOpcuaValue(BuiltinType.UInt32, 4294967296, "p")), "badRequest");
    assert.equal(fieldCode(() => toOpcuaValue(BuiltinType.Int32, 1.5, "p")), "badRequest");
    assert.equal(toOpcuaValue(BuiltinType.UInt16, "65535", "p").value, 65535);
  });
  test("64-bit integers accept bigint and number and become words", () => {
    assert.deepEqual(toOpcuaValue(BuiltinType.Int64, -2n, "p").value, [0xffffffff, 0xfffffffe]);
    assert.deepEqual(toOpcuaValue(BuiltinType.UInt64, 2 ** 40, "p").value, [256, 0]);
    assert.equal(fieldCode(() => toOpcuaValue(BuiltinType.UInt64, -1n, "p")), "badRequest");
  });
  test("floats reject non-finite values and Float overflow", () => {
    assert.equal(toOpcuaValue(BuiltinType.Double, "2.5", "p").value, 2.5);
    assert.equal(fieldCode(() => toOpcuaValue(BuiltinType.Double, Number.NaN, "p")), "badRequest");
    assert.equal(fieldCode(() => toOpcuaValue(BuiltinType.Float, 1e39, "p")), "badRequest");
    assert.equal(toOpcuaValue(BuiltinType.Double, 1e39, "p").value, 1e39);
  });
  test("booleans, strings and times", () => {
    assert.equal(toOpcuaValue(BuiltinType.Boolean, 1, "p").value, true);
    assert.equal(toOpcuaValue(BuiltinType.Boolean, "false", "p").value, false);
    assert.equal(fieldCode(() => toOpcuaValue(BuiltinType.Boolean, 2, "p")), "badRequest");
    assert.equal(toOpcuaValue(BuiltinType.String, 42, "p").value, "42");
    const d = toOpcuaValue(BuiltinType.DateTime, 1700000000000, "p").value as Date;
    assert.equal(d.getTime(), 1700000000000);
    assert.equal((toOpcuaValue(BuiltinType.DateTime, "2024-01-02T03:04:05Z", "p").value as Date).toISOString(), "2024-01-02T03:04:05.000Z");
    assert.equal(fieldCode(() => toOpcuaValue(BuiltinType.DateTime, "not a date", "p")), "badRequest");
  });
  test("arrays are coerced element by element", () => {
    const v = toOpcuaValue(BuiltinType.Int16, [1, 2, 3], "p");
    assert.equal(v.array, true);
    assert.deepEqual(v.value, [1, 2, 3]);
    assert.equal(fieldCode(() => toOpcuaValue(BuiltinType.Int16, [1, 70000], "p")), "badRequest");
  });
  test("types without a TSL counterpart are unsupported (100005)", () => {
    assert.equal(fieldCode(() => toOpcuaValue(BuiltinType.ExtensionObject, {}, "p")), "unsupported");
  });
  test("the error names the value, the identifier and the OPC UA type", () => {
    assert.throws(() => toOpcuaValue(BuiltinType.Int16, 99999, "dev sp"), /dev sp: 99999 is out of range for OPC UA Int16/);
  });
});

describe("fromOpcuaValue", () => {
  test("maps OPC UA values to sample values", () => {
    assert.equal(fromOpcuaValue(BuiltinType.Int64, [0xffffffff, 0xffffffff]), -1n);
    assert.equal(fromOpcuaValue(BuiltinType.UInt64, [0xffffffff, 0xffffffff]), 2n ** 64n - 1n);
    assert.equal(fromOpcuaValue(BuiltinType.DateTime, new Date(5000)), 5000);
    assert.equal(fromOpcuaValue(BuiltinType.ByteString, Buffer.from([1, 0xab])), "01ab");
    assert.equal(fromOpcuaValue(BuiltinType.LocalizedText, { text: "hi", locale: "en" }), "hi");
    assert.equal(fromOpcuaValue(BuiltinType.Double, 1.25), 1.25);
    assert.deepEqual(fromOpcuaValue(BuiltinType.Float, new Float32Array([1.5, 2]), true), [1.5, 2]);
    assert.deepEqual(fromOpcuaValue(BuiltinType.Int64, [[0, 1], [0, 2]], true), [1n, 2n]);
    assert.equal(fromOpcuaValue(BuiltinType.Double, null), null);
  });
});
