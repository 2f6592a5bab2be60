import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { ModbusPointSpec } from "../../src/config/gateway/model.js";
import { pointWidth } from "../../src/field/modbus/codec.js";
import { planPolls, requestsPerCycle, splitRead, type PlannedRead, type PollPlan } from "../../src/field/modbus/planner.js";
import { modbusPoint } from "../helpers/modbus-points.js";

let seq = 0;
/** A point with a fresh identifier, an int16 holding register unless `o` says otherwise. */
function pt(address: number, o: Partial<ModbusPointSpec> = {}): ModbusPointSpec {
  return modbusPoint(`p${seq++}`, o.operateType ?? "holdingRegister", address, o.rawType ?? "int16", { tslType: "int", ...o });
}

const opts = { maxGap: 8 };

function reads(plans: PollPlan[]): PlannedRead[] {
  return plans.flatMap((p) => p.reads);
}

/** Every point is in exactly one read, inside its range, at the right offset; no read exceeds the caps. */
function assertCovers(points: ModbusPointSpec[], plans: PollPlan[]): void {
  const all = reads(plans);
  for (const r of all) {
    const cap = r.fc <= 2 ? 2000 : 125;
    assert.ok(r.count >= 1 && r.count <= cap, `read of ${r.count} exceeds ${cap}`);
    for (const { point, offset } of r.items) {
      assert.equal(r.address + offset, point.address);
      assert.ok(offset + pointWidth(point) <= r.count, `${point.identifier} runs past its read`);
    }
  }
  const seen = all.flatMap((r) => r.items.map((i) => i.point.identifier)).sort();
  assert.deepEqual(seen, points.map((p) => p.identifier).sort());
}

describe("planPolls", () => {
  it("Link IoT Edge sizing: 10 devices x 10 contiguous points on one line cost 10 requests per cycle, not 100", () => {
    let total = 0;
    for (let device = 0; device < 10; device++) {
      const points = Array.from({ length: 10 }, (_, i) => pt(i));
      const plans = planPolls(points, opts);
      assertCovers(points, plans);
      assert.equal(plans.length, 1);
      assert.deepEqual(
        plans[0]!.reads.map((r) => ({ fc: r.fc, address: r.address, count: r.count })),
        [{ fc: 3, address: 0, count: 10 }],
      );
      assert.deepEqual(plans[0]!.reads[0]!.items.map((i) => i.offset), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      total += requestsPerCycle(plans);
    }
    assert.equal(total, 10);
  });

  it("reads through a gap of up to maxGap registers, splits beyond", () => {
    // a int16 at 0 ends at 1: a point at 9 leaves a gap of 8, at 10 a gap of 9
    const merged = planPolls([pt(0), pt(9)], opts);
    assert.deepEqual(reads(merged).map((r) => [r.address, r.count]), [[0, 10]]);
    const split = planPolls([pt(0), pt(10)], opts);
    assert.deepEqual(reads(split).map((r) => [r.address, r.count]), [[0, 1], [10, 1]]);
    const noGap = planPolls([pt(0), pt(1), pt(3)], { maxGap: 0 });
    assert.deepEqual(reads(noGap).map((r) => [r.address, r.count]), [[0, 2], [3, 1]]);
  });

  it("merges mixed widths and input order does not matter", () => {
    const points = [pt(16, { rawType: "float" }), pt(0, { rawType: "double" }), pt(6, { rawType: "int32" }), pt(4)];
    const plans = planPolls(points, opts);
    assertCovers(points, plans);
    assert.deepEqual(reads(plans).map((r) => [r.address, r.count]), [[0, 18]]);
    const offsets = Object.fromEntries(reads(plans)[0]!.items.map((i) => [i.point.address, i.offset]));
    assert.deepEqual(offsets, { 0: 0, 4: 4, 6: 6, 16: 16 });
  });

  it("points sharing registers share the read", () => {
    const points = [pt(5, { rawType: "uint32" }), pt(5), pt(6)];
    const plans = planPolls(points, opts);
    assertCovers(points, plans);
    assert.deepEqual(reads(plans).map((r) => [r.address, r.count]), [[5, 2]]);
  });

  it("never exceeds 125 registers per request", () => {
    const ints = Array.from({ length: 130 }, (_, i) => pt(i));
    const a = planPolls(ints, opts);
    assertCovers(ints, a);
    assert.deepEqual(reads(a).map((r) => [r.address, r.count]), [[0, 125], [125, 5]]);

    // 63 floats = 126 registers: a float never straddles two requests
    const floats = Array.from({ length: 63 }, (_, i) => pt(i * 2, { rawType: "float" }));
    const b = planPolls(floats, opts);
    assertCovers(floats, b);
    assert.deepEqual(reads(b).map((r) => [r.address, r.count]), [[0, 124], [124, 2]]);

    // gaps never push a request past the cap either
    const sparse = Array.from({ length: 40 }, (_, i) => pt(i * 7, { rawType: "double" }));
    const c = planPolls(sparse, opts);
    assertCovers(sparse, c);
    assert.ok(reads(c).length >= 3);
  });

  it("never exceeds 2000 bits per request", () => {
    const coils = Array.from({ length: 2100 }, (_, i) => pt(i, { operateType: "coilStatus", rawType: "bool" }));
    const plans = planPolls(coils, opts);
    assertCovers(coils, plans);
    assert.deepEqual(reads(plans).map((r) => [r.fc, r.address, r.count]), [[1, 0, 2000], [1, 2000, 100]]);
  });

  it("measures bit gaps in bytes: 8 registers of gap = 128 bits", () => {
    const bit = (a: number) => pt(a, { operateType: "inputStatus", rawType: "bool" });
    assert.deepEqual(reads(planPolls([bit(0), bit(129)], opts)).map((r) => [r.fc, r.address, r.count]), [[2, 0, 130]]);
    assert.equal(reads(planPolls([bit(0), bit(130)], opts)).length, 2);
  });

  it("different function codes never merge", () => {
    const points = [
      pt(0),
      pt(1, { operateType: "inputRegister" }),
      pt(0, { operateType: "coilStatus", rawType: "bool" }),
      pt(1, { operateType: "inputStatus", rawType: "bool" }),
    ];
    const plans = planPolls(points, opts);
    assertCovers(points, plans);
    assert.deepEqual(reads(plans).map((r) => [r.fc, r.address, r.count]), [[1, 0, 1], [2, 1, 1], [3, 0, 1], [4, 1, 1]]);
  });

  it("different periods never merge; plans are ordered by period", () => {
    const points = [pt(0, { pollingMs: 5000 }), pt(1, { pollingMs: 1000 }), pt(2, { pollingMs: 5000 })];
    const plans = planPolls(points, opts);
    assertCovers(points, plans);
    assert.deepEqual(
      plans.map((p) => [p.periodMs, p.reads.map((r) => [r.address, r.count])]),
      [
        [1000, [[1, 1]]],
        [5000, [[0, 3]]],
      ],
    );
  });

  it("an empty device has no plans", () => {
    assert.deepEqual(planPolls([], opts), []);
  });
});

describe("splitRead", () => {
  it("first drops the read-through gaps, then reads point by point, then gives up", () => {
    const [gapped] = planPolls([pt(0), pt(1), pt(6)], opts)[0]!.reads;
    assert.deepEqual([gapped!.address, gapped!.count], [0, 7]);
    const contiguous = splitRead(gapped!);
    assert.deepEqual(contiguous.map((r) => [r.address, r.count]), [[0, 2], [6, 1]]);
    const single = splitRead(contiguous[0]!);
    assert.deepEqual(single.map((r) => [r.address, r.count, r.items[0]!.offset]), [[0, 1, 0], [1, 1, 0]]);
    assert.deepEqual(splitRead(single[0]!), []);
  });
});
