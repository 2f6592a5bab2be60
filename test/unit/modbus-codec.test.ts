import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { ModbusPointSpec, ModbusRawType } from "../../src/config/gateway/model.js";
import { decodeBit, decodeRegisters, encodeValue, pointProblem, pointWidth } from "../../src/field/modbus/codec.js";
import { decodeRequest, decodeResponse, encodeRequest, encodeResponse } from "../../src/field/modbus/pdu.js";
import { ModbusExceptionError } from "../../src/field/modbus/errors.js";
import { throwsFieldError } from "../helpers/field-errors.js";
import { modbusPoint } from "../helpers/modbus-points.js";

/** A holding-register point "p" at address 0. */
function pt(rawType: ModbusRawType, o: Partial<ModbusPointSpec> = {}): ModbusPointSpec {
  return modbusPoint("p", "holdingRegister", 0, rawType, o);
}

const S = { swap16: true };
const R = { reverseRegister: true };
const SR = { swap16: true, reverseRegister: true };

describe("decodeRegisters: alink.md 5.3.2 test vectors", () => {
  const table: Array<[ModbusRawType, Partial<ModbusPointSpec>, number[], number]> = [
    ["float", {}, [0x4148, 0x0000], 12.5],
    ["float", R, [0x0000, 0x4148], 12.5],
    ["float", S, [0x4841, 0x0000], 12.5],
    ["int32", {}, [0xffff, 0xfffe], -2],
    ["int16", { scaling: 0.1 }, [0x0064], 10],
  ];
  for (const [type, opts, words, expected] of table) {
    it(`${type} ${JSON.stringify(opts)} ${words.map((w) => w.toString(16))} -> ${expected}`, () => {
      assert.equal(decodeRegisters(pt(type, opts), words), expected);
    });
  }
});

describe("decodeRegisters: every type x swap16 x reverseRegister (hand-computed)", () => {
  // Each row: type, options, registers as read, expected value.
  const rows: Array<[ModbusRawType, Partial<ModbusPointSpec>, number[], unknown]> = [
    // int16 -100 = 0xFF9C; reverseRegister is a no-op on one register
    ["int16", {}, [0xff9c], -100],
    ["int16", S, [0x9cff], -100],
    ["int16", R, [0xff9c], -100],
    ["int16", SR, [0x9cff], -100],
    ["uint16", {}, [0xff9c], 65436],
    ["uint16", S, [0x9cff], 65436],
    // int32 305419896 = 0x12345678
    ["int32", {}, [0x1234, 0x5678], 305419896],
    ["int32", R, [0x5678, 0x1234], 305419896],
    ["int32", S, [0x3412, 0x7856], 305419896],
    ["int32", SR, [0x7856, 0x3412], 305419896],
    // -305419896 = 0xEDCBA988
    ["int32", {}, [0xedcb, 0xa988], -305419896],
    ["uint32", {}, [0xffff, 0xfffe], 4294967294],
    ["uint32", R, [0xfffe, 0xffff], 4294967294],
    ["uint32", SR, [0xfeff, 0xffff], 4294967294],
    // float 0.1f = 0x3DCCCCCD reports as 0.1, -1.5 = 0xBFC00000
    ["float", {}, [0x3dcc, 0xcccd], 0.1],
    ["float", {}, [0xbfc0, 0x0000], -1.5],
    ["float", SR, [0x0000, 0x4841], 12.5],
    // double pi = 0x400921FB54442D18, 1.5 = 0x3FF8000000000000, -2.25 = 0xC002000000000000
    ["double", {}, [0x4009, 0x21fb, 0x5444, 0x2d18], Math.PI],
    ["double", R, [0x2d18, 0x5444, 0x21fb, 0x4009], Math.PI],
    ["double", S, [0x0940, 0xfb21, 0x4454, 0x182d], Math.PI],
    ["double", SR, [0x182d, 0x4454, 0xfb21, 0x0940], Math.PI],
    ["double", {}, [0x3ff8, 0, 0, 0], 1.5],
    ["double", {}, [0xc002, 0, 0, 0], -2.25],
    // int64 0x0123456789ABCDEF = 81985529216486895, -2 = 0xFFFFFFFFFFFFFFFE
    ["int64", {}, [0x0123, 0x4567, 0x89ab, 0xcdef], 81985529216486895n],
    ["int64", R, [0xcdef, 0x89ab, 0x4567, 0x0123], 81985529216486895n],
    ["int64", S, [0x2301, 0x6745, 0xab89, 0xefcd], 81985529216486895n],
    ["int64", SR, [0xefcd, 0xab89, 0x6745, 0x2301], 81985529216486895n],
    ["int64", {}, [0xffff, 0xffff, 0xffff, 0xfffe], -2n],
    ["uint64", {}, [0xffff, 0xffff, 0xffff, 0xffff], 18446744073709551615n],
    ["uint64", R, [0x0000, 0x0000, 0x0000, 0x0001], 281474976710656n],
    // bool on a register: any non-zero value
    ["bool", {}, [0x0000], false],
    ["bool", {}, [0x0100], true],
    ["bool", S, [0x0001], true],
  ];
  for (const [type, opts, words, expected] of rows) {
    it(`${type} ${JSON.stringify(opts)} [${words.map((w) => w.toString(16)).join(",")}] -> ${String(expected)}`, () => {
      assert.equal(decodeRegisters(pt(type, opts), words), expected);
      // The same words inside a block read, decoded in place at their offset.
      const block = [0x1234, 0xfedc, 0xffff, ...words, 0xabcd, 0x0001];
      assert.equal(decodeRegisters(pt(type, opts), block, 3), expected);
    });
  }

  it("an offset past the block's end is refused, not read as zeros", () => {
    assert.throws(() => decodeRegisters(pt("int32", {}), [1, 2, 3], 2), /expected 2 registers, got 1/);
    assert.throws(() => decodeRegisters(pt("int16", {}), [1, 2], -1), RangeError);
  });

  it("string: registerCount registers, UTF-8, trailing NULs stripped, swap16/reverse applied", () => {
    const s = (o: Partial<ModbusPointSpec>) => pt("string", { registerCount: 3, ...o });
    assert.equal(decodeRegisters(s({}), [0x4142, 0x4300, 0x0000]), "ABC");
    assert.equal(decodeRegisters(s(S), [0x4241, 0x0043, 0x0000]), "ABC");
    assert.equal(decodeRegisters(s(R), [0x0000, 0x4300, 0x4142]), "ABC");
    assert.equal(decodeRegisters(pt("string", { registerCount: 1 }), [0xc3a9]), "é");
    // an inner NUL is data, only the trailing ones are padding
    assert.equal(decodeRegisters(pt("string", { registerCount: 2 }), [0x4100, 0x4200]), "A\u0000B");
  });

  it("customized data: the registers as read, as upper-case hex", () => {
    assert.equal(decodeRegisters(pt("customized data", { registerCount: 2 }), [0x00ab, 0xcd01]), "00ABCD01");
    assert.equal(decodeRegisters(pt("customized data", { registerCount: 2, ...SR }), [0x00ab, 0xcd01]), "00ABCD01");
  });

  it("scaling multiplies, fractional factors give the decimal result", () => {
    assert.equal(decodeRegisters(pt("int16", { scaling: 0.1 }), [0xff9c]), -10);
    assert.equal(decodeRegisters(pt("int16", { scaling: 0.1 }), [0x0003]), 0.3); // not 0.30000000000000004
    assert.equal(decodeRegisters(pt("uint16", { scaling: 0.01 }), [0x04d2]), 12.34);
    assert.equal(decodeRegisters(pt("uint16", { scaling: 10 }), [0x0003]), 30);
    assert.equal(decodeRegisters(pt("float", { scaling: 0.1 }), [0x4148, 0x0000]), 1.25);
    assert.equal(decodeRegisters(pt("uint32", { scaling: 2.5 }), [0x0000, 0x0004]), 10);
  });

  it("64-bit integers are bigint with scaling 1 and number otherwise", () => {
    assert.equal(typeof decodeRegisters(pt("int64"), [0, 0, 0, 100]), "bigint");
    assert.equal(decodeRegisters(pt("int64", { scaling: 0.5 }), [0, 0, 0, 100]), 50);
    assert.equal(decodeRegisters(pt("uint64", { scaling: 0.001 }), [0, 0, 0, 1500]), 1.5);
  });

  it("rejects a register count that does not match the point", () => {
    assert.throws(() => decodeRegisters(pt("float"), [0x4148]), RangeError);
  });

  it("bits decode to booleans", () => {
    assert.equal(decodeBit(pt("bool", { operateType: "coilStatus" }), true), true);
    assert.equal(decodeBit(pt("bool", { operateType: "inputStatus" }), false), false);
  });
});

describe("encodeValue (hand-computed)", () => {
  it("int16 with scaling divides and rounds", () => {
    assert.deepEqual(encodeValue(pt("int16", { scaling: 0.1 }), 12.3), [0x007b]);
    assert.deepEqual(encodeValue(pt("int16", { scaling: 0.1 }), -10), [0xff9c]);
    assert.deepEqual(encodeValue(pt("int16", { scaling: 0.1 }), 0.3), [0x0003]);
    assert.deepEqual(encodeValue(pt("int16"), 2.5), [0x0003]);
    assert.deepEqual(encodeValue(pt("int16"), -2.5), [0xfffd]); // half away from zero
    assert.deepEqual(encodeValue(pt("int16", S), -100), [0x9cff]);
    assert.deepEqual(encodeValue(pt("uint16", { scaling: 10 }), 30), [0x0003]);
  });

  it("int32 / uint32 apply reverseRegister then swap16", () => {
    assert.deepEqual(encodeValue(pt("int32"), -2), [0xffff, 0xfffe]);
    assert.deepEqual(encodeValue(pt("int32", R), -2), [0xfffe, 0xffff]);
    assert.deepEqual(encodeValue(pt("int32", S), -2), [0xffff, 0xfeff]);
    assert.deepEqual(encodeValue(pt("int32", SR), -2), [0xfeff, 0xffff]);
    assert.deepEqual(encodeValue(pt("uint32", SR), 305419896), [0x7856, 0x3412]);
  });

  it("float and double", () => {
    assert.deepEqual(encodeValue(pt("float"), 12.5), [0x4148, 0x0000]);
    assert.deepEqual(encodeValue(pt("float", S), 12.5), [0x4841, 0x0000]);
    assert.deepEqual(encodeValue(pt("float", R), 12.5), [0x0000, 0x4148]);
    assert.deepEqual(encodeValue(pt("float", { scaling: 0.1 }), 1.25), [0x4148, 0x0000]);
    assert.deepEqual(encodeValue(pt("double"), Math.PI), [0x4009, 0x21fb, 0x5444, 0x2d18]);
    assert.deepEqual(encodeValue(pt("double", SR), Math.PI), [0x182d, 0x4454, 0xfb21, 0x0940]);
  });

  it("64-bit integers from bigint and number", () => {
    assert.deepEqual(encodeValue(pt("int64"), -2n), [0xffff, 0xffff, 0xffff, 0xfffe]);
    assert.deepEqual(encodeValue(pt("int64", R), 81985529216486895n), [0xcdef, 0x89ab, 0x4567, 0x0123]);
    assert.deepEqual(encodeValue(pt("uint64"), 18446744073709551615n), [0xffff, 0xffff, 0xffff, 0xffff]);
    assert.deepEqual(encodeValue(pt("uint64", { scaling: 0.5 }), 50), [0, 0, 0, 100]);
  });

  it("strings are UTF-8, NUL padded, swap16/reverse applied", () => {
    assert.deepEqual(encodeValue(pt("string", { registerCount: 3 }), "ABC"), [0x4142, 0x4300, 0x0000]);
    assert.deepEqual(encodeValue(pt("string", { registerCount: 3, ...S }), "ABC"), [0x4241, 0x0043, 0x0000]);
    assert.deepEqual(encodeValue(pt("string", { registerCount: 1 }), "é"), [0xc3a9]);
  });

  it("coils write 0xFF00 / 0x0000; bool registers 1 / 0", () => {
    const coil = pt("bool", { operateType: "coilStatus" });
    assert.deepEqual(encodeValue(coil, true), [0xff00]);
    assert.deepEqual(encodeValue(coil, false), [0x0000]);
    assert.deepEqual(encodeValue(coil, 1), [0xff00]);
    assert.deepEqual(encodeValue(coil, 0), [0x0000]);
    assert.deepEqual(encodeValue(pt("bool"), true), [0x0001]);
    assert.deepEqual(encodeValue(pt("bool"), 0), [0x0000]);
  });

  it("customized data is written as given hex", () => {
    assert.deepEqual(encodeValue(pt("customized data", { registerCount: 2 }), "00abCD01"), [0x00ab, 0xcd01]);
    throwsFieldError(() => encodeValue(pt("customized data", { registerCount: 2 }), "00AB"), "badRequest");
  });

  it("values that do not fit the raw type are rejected with 460", () => {
    throwsFieldError(() => encodeValue(pt("uint16"), 70000), "badRequest", /does not fit uint16/);
    throwsFieldError(() => encodeValue(pt("uint16"), -1), "badRequest");
    throwsFieldError(() => encodeValue(pt("int16"), 32767.5), "badRequest"); // rounds to 32768
    assert.deepEqual(encodeValue(pt("int16"), 32767.4), [0x7fff]);
    throwsFieldError(() => encodeValue(pt("int16", { scaling: 0.1 }), 3276.8), "badRequest");
    throwsFieldError(() => encodeValue(pt("int32"), 2 ** 31), "badRequest");
    throwsFieldError(() => encodeValue(pt("uint32"), 2 ** 32), "badRequest");
    throwsFieldError(() => encodeValue(pt("uint64"), 2n ** 64n), "badRequest");
    throwsFieldError(() => encodeValue(pt("uint64"), -1n), "badRequest");
    throwsFieldError(() => encodeValue(pt("int64"), 2n ** 63n), "badRequest");
    throwsFieldError(() => encodeValue(pt("float"), 1e39), "badRequest");
    throwsFieldError(() => encodeValue(pt("double"), Number.POSITIVE_INFINITY), "badRequest");
    throwsFieldError(() => encodeValue(pt("string", { registerCount: 3 }), "ABCDEFG"), "badRequest", /does not fit/);
    throwsFieldError(() => encodeValue(pt("int16"), "abc"), "badRequest");
    throwsFieldError(() => encodeValue(pt("string", { registerCount: 2 }), 42), "badRequest");
    throwsFieldError(() => encodeValue(pt("bool", { operateType: "coilStatus" }), "on"), "badRequest");
  });
});

describe("write round trips: encode then decode gives the value back", () => {
  const values: Record<string, unknown[]> = {
    int16: [0, 1, -1, 32767, -32768, 12345],
    uint16: [0, 1, 65535, 40000],
    int32: [0, -1, 2147483647, -2147483648, 305419896],
    uint32: [0, 4294967295, 305419896],
    float: [0, 12.5, -1.5, 0.1, 3.4e38, -123.25],
    double: [0, Math.PI, -2.25, 1e300, 5e-324],
    int64: [0n, -1n, 9223372036854775807n, -9223372036854775808n, 81985529216486895n],
    uint64: [0n, 18446744073709551615n, 81985529216486895n],
  };
  for (const [type, list] of Object.entries(values)) {
    for (const swap16 of [false, true]) {
      for (const reverseRegister of [false, true]) {
        it(`${type} swap16=${swap16} reverseRegister=${reverseRegister}`, () => {
          const p = pt(type as ModbusRawType, { swap16, reverseRegister });
          for (const v of list) {
            const words = encodeValue(p, v);
            assert.equal(words.length, pointWidth(p));
            assert.equal(decodeRegisters(p, words), v, `${String(v)} -> [${words}]`);
          }
        });
      }
    }
  }

  for (const scaling of [0.1, 0.01, 10, 0.5]) {
    it(`scaled integers and floats, scaling ${scaling}`, () => {
      for (const type of ["int16", "int32", "uint32", "float", "double"] as const) {
        for (const swap16 of [false, true]) {
          for (const reverseRegister of [false, true]) {
            const p = pt(type, { scaling, swap16, reverseRegister });
            for (const raw of [0, 3, 7, 100, 1234]) {
              const value = Number((raw * scaling).toPrecision(12));
              assert.equal(decodeRegisters(p, encodeValue(p, value)), value, `${type} ${value}`);
            }
          }
        }
      }
    });
  }

  it("strings and bools", () => {
    for (const swap16 of [false, true]) {
      for (const reverseRegister of [false, true]) {
        const p = pt("string", { registerCount: 4, swap16, reverseRegister });
        for (const v of ["", "A", "ABCDEFGH", "温度"]) assert.equal(decodeRegisters(p, encodeValue(p, v)), v);
        const b = pt("bool", { swap16, reverseRegister });
        for (const v of [true, false]) assert.equal(decodeRegisters(b, encodeValue(b, v)), v);
      }
    }
  });
});

describe("pointProblem", () => {
  it("accepts valid points and names what is wrong with invalid ones", () => {
    assert.equal(pointProblem(pt("float")), undefined);
    assert.equal(pointProblem(pt("bool", { operateType: "coilStatus" })), undefined);
    assert.match(pointProblem(pt("int16", { operateType: "coilStatus" }))!, /only the bool/);
    assert.match(pointProblem(pt("string", { registerCount: 126 }))!, /registerCount/);
    assert.match(pointProblem(pt("int32", { address: 65535 }))!, /past address 65535/);
    assert.match(pointProblem(pt("int16", { scaling: 0 }))!, /scaling/);
    assert.match(pointProblem(pt("int16", { pollingMs: 0 }))!, /pollingTime/);
  });
});

describe("PDU codec", () => {
  it("request and response frames round-trip through both sides", () => {
    const reqs = [
      { fc: 1 as const, address: 10, count: 11 },
      { fc: 3 as const, address: 0x1234, count: 125 },
      { fc: 5 as const, address: 7, value: true },
      { fc: 6 as const, address: 7, value: 0xbeef },
      { fc: 15 as const, address: 3, values: [true, false, true, true, false, false, false, false, true] },
      { fc: 16 as const, address: 9, values: [1, 2, 0xffff] },
    ];
    for (const req of reqs) assert.deepEqual(decodeRequest(encodeRequest(req)), req);
    assert.deepEqual(encodeRequest({ fc: 3, address: 0x006b, count: 3 }), Buffer.from([0x03, 0x00, 0x6b, 0x00, 0x03]));
    assert.deepEqual(encodeRequest({ fc: 5, address: 0x00ac, value: true }), Buffer.from([0x05, 0x00, 0xac, 0xff, 0x00]));
    const bits = [true, false, true, true, false, false, true, true, true, true, false];
    assert.deepEqual(decodeResponse({ fc: 1, address: 0, count: 11 }, encodeResponse({ fc: 1, address: 0, count: 11 }, { bits })), { bits });
    // Modbus spec example: coils 20-38 -> CD 6B 05
    assert.deepEqual(
      encodeResponse({ fc: 1, address: 19, count: 19 }, {
        bits: [1, 0, 1, 1, 0, 0, 1, 1, 1, 1, 0, 1, 0, 1, 1, 0, 1, 0, 1].map((b) => b === 1),
      }),
      Buffer.from([0x01, 0x03, 0xcd, 0x6b, 0x05]),
    );
  });

  it("exception responses and mismatches", () => {
    assert.throws(
      () => decodeResponse({ fc: 3, address: 0, count: 1 }, Buffer.from([0x83, 0x02])),
      (e: unknown) => e instanceof ModbusExceptionError && e.exceptionCode === 2 && /modbus exception 2/.test(e.message),
    );
    assert.throws(() => decodeResponse({ fc: 3, address: 0, count: 2 }, Buffer.from([0x03, 0x02, 0, 1])), /expected 4/);
    assert.throws(() => decodeResponse({ fc: 3, address: 0, count: 1 }, Buffer.from([0x04, 0x02, 0, 1])), /does not match/);
    assert.deepEqual(decodeRequest(Buffer.from([0x03, 0, 0, 0, 126])), { exception: 3, fc: 3 });
    assert.deepEqual(decodeRequest(Buffer.from([0x2b, 0x0e])), { exception: 1, fc: 0x2b });
  });
});
