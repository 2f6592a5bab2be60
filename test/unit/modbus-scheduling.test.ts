import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { RequestQueue, Priority } from "../../src/field/modbus/request-queue.js";
import { SlotTimer } from "../../src/field/modbus/slot-timer.js";
import { ModbusAbandonedError } from "../../src/field/modbus/errors.js";
import { BusyMeter } from "../../src/field/modbus/busy-meter.js";

function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((r) => (open = r));
  return { wait, open };
}

describe("RequestQueue", () => {
  it("on a half-duplex line, a write jumps ahead of the queued polls but not the one on the wire", async () => {
    const q = new RequestQueue(1);
    const order: string[] = [];
    const first = gate();
    const job = (name: string, hold?: Promise<void>) => async () => {
      order.push(`start ${name}`);
      await hold;
      order.push(`end ${name}`);
      return name;
    };
    const p1 = q.push("a", Priority.poll, job("poll1", first.wait));
    const p2 = q.push("b", Priority.poll, job("poll2"));
    const p3 = q.push("a", Priority.poll, job("poll3"));
    const w = q.push("a", Priority.write, job("write"));
    await sleep(5);
    assert.deepEqual(order, ["start poll1"]);
    first.open();
    assert.deepEqual(await Promise.all([p1, p2, p3, w]), ["poll1", "poll2", "poll3", "write"]);
    assert.deepEqual(order, ["start poll1", "end poll1", "start write", "end write", "start poll2", "end poll2", "start poll3", "end poll3"]);
  });

  it("keeps at most `concurrency` jobs running", async () => {
    const q = new RequestQueue(3);
    let running = 0;
    let peak = 0;
    const jobs = Array.from({ length: 20 }, (_, i) =>
      q.push(`d${i % 4}`, Priority.poll, async () => {
        running++;
        peak = Math.max(peak, running);
        await sleep(2);
        running--;
      }),
    );
    await Promise.all(jobs);
    assert.equal(peak, 3);
  });

  it("abandon() rejects the owner's queued jobs only; idle() waits for its job on the wire", async () => {
    const q = new RequestQueue(1);
    const hold = gate();
    let ranB = false;
    const onWire = q.push("a", Priority.poll, async () => {
      await hold.wait;
      return "done";
    });
    const queuedA = q.push("a", Priority.poll, async () => "never");
    const queuedB = q.push("b", Priority.poll, async () => {
      ranB = true;
    });
    q.abandon("a", "device removed");
    await assert.rejects(queuedA, (e: unknown) => e instanceof ModbusAbandonedError && /device removed/.test(e.message));
    let idle = false;
    const idleP = q.idle("a").then(() => (idle = true));
    await sleep(5);
    assert.equal(idle, false);
    hold.open();
    await idleP;
    assert.equal(await onWire, "done");
    await queuedB;
    assert.equal(ranB, true);
  });
});

describe("SlotTimer", () => {
  it("keeps to the fixed grid: slots fired + slots skipped match elapsed time even when each slot costs time", async () => {
    const period = 20;
    let fires = 0;
    const timer = new SlotTimer({
      periodMs: period,
      onSlot: () => {
        fires++;
        const until = performance.now() + 5; // work done in the slot would delay a naive re-arm by 5 ms each time
        while (performance.now() < until);
      },
    });
    const origin = performance.now();
    timer.start(origin);
    await sleep(600);
    timer.stop();
    const slotsDue = Math.floor((performance.now() - origin) / period) + 1;
    // a re-arming timer would have lost ~1 slot in 5 here (20 ms period + 5 ms work)
    assert.ok(fires + timer.skipped >= slotsDue - 1, `fired ${fires} + skipped ${timer.skipped} of ${slotsDue}`);
    assert.ok(fires + timer.skipped <= slotsDue + 1);
  });

  it("skips the slots missed while the process was blocked instead of firing them in a burst", async () => {
    const period = 20;
    const times: number[] = [];
    let blocked = false;
    const timer = new SlotTimer({
      periodMs: period,
      onSlot: () => {
        times.push(performance.now());
        if (!blocked && times.length === 3) {
          blocked = true;
          const until = performance.now() + 110;
          while (performance.now() < until);
        }
      },
    });
    timer.start();
    await sleep(400);
    timer.stop();
    assert.ok(timer.skipped >= 4, `skipped ${timer.skipped}`);
    const afterBlock = times.slice(3, 6);
    assert.ok(afterBlock.length >= 3);
    // a burst would fire the missed slots back to back
    assert.ok(afterBlock[2]! - afterBlock[0]! >= period, `fires after the block: ${afterBlock.map((t) => t.toFixed(1))}`);
  });
});

describe("BusyMeter", () => {
  it("reports the busy fraction of the recent window", () => {
    const now = performance.now();
    const start = now - 4000;
    const m = new BusyMeter(10, start);
    assert.equal(m.utilisation(now), 0);
    m.add(start, start + 1000);
    m.add(start + 2000, start + 2500);
    const u = m.utilisation(now);
    // 1.5 s busy in the 4 s since the meter was created
    assert.ok(u > 0.3 && u <= 0.5, `utilisation ${u}`);
    // 12 s later both intervals have left the window
    assert.equal(m.utilisation(now + 12_000), 0);
  });
});
