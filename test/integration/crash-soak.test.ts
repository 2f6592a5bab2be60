/**
 * Crash soak: `fieldbridge run` is killed with SIGKILL at random moments, many times, while a register counts up and
 * the broker comes and goes. After every kill the database passes SQLite's integrity check, and every value the outbox
 * had committed (plus every value the platform had already accepted) arrives once the daemon runs with the broker up.
 * Random choices come from one seed (FB_CRASH_SEED, printed) so that a failure can be replayed.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import Database from "better-sqlite3";
import { meterTsl, modbusDoc, deviceName, METER } from "../helpers/gwdoc.js";
import { GATEWAY, makeRig } from "../helpers/daemon.js";
import { DaemonProcess } from "../helpers/cli.js";
import { CloudEmulator } from "../../src/sim/cloud/aliyun/index.js";
import { ModbusTcpSimulator } from "../../src/sim/modbus/index.js";

const KILLS = 50;
const gw = GATEWAY;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** mulberry32: small, seedable, good enough to spread kill moments. */
function prng(seed: number): (lo: number, hi: number) => number {
  let a = seed >>> 0;
  return (lo, hi) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const u = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    return Math.floor(lo + u * (hi - lo + 1));
  };
}

/** `value -> sample time` of the P0 values in the outbox, read straight from the database file. */
function readCommitted(db: Database.Database): Map<number, number> {
  const out = new Map<number, number>();
  const rows = db.prepare("SELECT kind, body FROM records ORDER BY seq").all() as Array<{ kind: string; body: string }>;
  for (const r of rows) {
    if (r.kind !== "properties") continue;
    for (const [id, value, time] of JSON.parse(r.body) as Array<[string, number, number]>) if (id === "P0") out.set(value, time);
  }
  return out;
}

test(`${KILLS} kills -9 at random moments while the broker comes and goes: the database stays sound and nothing committed is lost`, { timeout: 240_000 }, async (t) => {
  const seed = Number(process.env["FB_CRASH_SEED"] ?? Date.now() % 1_000_000);
  t.diagnostic(`seed ${seed} (FB_CRASH_SEED=${seed} replays it)`);
  // One stream per actor, so that the kill moments of a seed do not depend on how the other actors interleave.
  const rnd = prng(seed);
  const tickRnd = prng(seed + 1);
  const brokerRnd = prng(seed + 2);
  // Fifty restarts in two minutes log the meter in far more often than the platform's five per minute: the limit is
  // raised so that every run can deliver (and so the kills also land while records are acknowledged and deleted).
  const emu = await CloudEmulator.start({ loginsPerMinute: 10_000 });
  emu.addDevice({ ...gw, gateway: true });
  emu.addProduct(METER, { tsl: meterTsl(2), dynamicRegistration: true });
  emu.addDevice({ productKey: METER, deviceName: deviceName("meter", 0) });
  const sim = await ModbusTcpSimulator.start({ units: [1] });
  let counter = 0;
  sim.setHolding(1, 0, [0, counter]);
  let ticking = true;
  const ticks = (async () => {
    while (ticking) {
      await sleep(tickRnd(50, 100));
      counter++;
      sim.setHolding(1, 0, [counter >>> 16, counter & 0xffff]);
    }
  })();
  const rig = makeRig(emu, { store: { sync: "full" }, log: { level: "info" } });
  let d = new DaemonProcess(["run", "--config", rig.configFile]);
  let flapping = false;
  let flapper: Promise<void> = Promise.resolve();
  t.after(async () => {
    flapping = false;
    ticking = false;
    await d.stop("SIGKILL");
    await flapper.catch(() => undefined);
    await ticks;
    await sim.close();
    await emu.close();
    rig.cleanup();
  });

  await d.waitForLog((l) => l.msg === "connected to cloud", 10_000);
  const push = await emu.pushConfig(gw, modbusDoc({ devices: 1, points: 2, port: sim.port, pollingTime: 100, trigger: 2 }));
  assert.equal(push.reply.code, 200);
  const p0 = () => emu.accepted.properties.filter((p) => p.identifier === "P0");
  await emu.waitFor(() => p0().length > 0, 10_000, "first values");

  // The broker: up for 0.5-3 s, down for 0.3-2.5 s, independently of the kills.
  let outages = 0;
  flapping = true;
  flapper = (async () => {
    while (flapping) {
      await sleep(brokerRnd(500, 3000));
      if (!flapping) break;
      await emu.outage();
      outages++;
      await sleep(brokerRnd(300, 2500));
      await emu.restore();
    }
  })();

  // Records the outbox gave up on (refused too often, rejected, over a limit): each would be a value that never arrives.
  const drops: string[] = [];
  const droppedIn = (p: DaemonProcess) => p.logs().filter((l) => /dropped it|dropped after|dropping (the oldest|them|new records|the waiting)|records are dropped/.test(String(l.msg))).map((l) => JSON.stringify(l));
  const mustArrive = new Map<number, number>(); // value -> sample time, from the outbox
  const acceptedAtKills = new Set<number>();
  let spawnedAt = Date.now();
  let duringStart = 0;
  for (let k = 0; k < KILLS; k++) {
    // A random moment: one kill in five while the daemon starts (opening and migrating the database, applying the
    // config), the others 0.3-2.5 s into its run (polling, reconnecting, replaying). Counted from the daemon's own
    // start line, so that a loaded machine, slow to start node, still gives every run time to sample.
    if (rnd(1, 5) === 1) {
      duringStart++;
      await sleep(Math.max(0, spawnedAt + rnd(0, 1000) - Date.now()));
    } else {
      await d.waitForLog((l) => l.msg === "fieldbridge started", 15_000);
      await sleep(rnd(300, 2500));
    }
    assert.equal(d.child.exitCode, null, `the daemon died by itself before kill ${k + 1}:\n${d.stdout.slice(-3000)}\n${d.stderr.slice(-2000)}`);
    d.child.kill("SIGKILL");
    await d.exited();
    drops.push(...droppedIn(d));
    for (const p of p0()) acceptedAtKills.add(p.value as number);
    const db = new Database(join(rig.dataDir, "fieldbridge.db"), { readonly: true, fileMustExist: true });
    try {
      const check = db.pragma("integrity_check") as Array<{ integrity_check: string }>;
      assert.deepEqual(check.map((r) => r.integrity_check), ["ok"], `integrity after kill ${k + 1}`);
      for (const [value, time] of readCommitted(db)) mustArrive.set(value, time);
    } finally {
      db.close();
    }
    d = new DaemonProcess(["run", "--config", rig.configFile]);
    spawnedAt = Date.now();
  }

  // Last run, broker up: everything committed at any kill arrives with its sample time.
  flapping = false;
  await flapper;
  await emu.restore();
  await d.waitForLog((l) => l.msg === "connected to cloud", 20_000);
  const missing = () => {
    const got = new Map<number, Set<number>>();
    for (const p of p0()) {
      const s = got.get(p.value as number) ?? new Set<number>();
      s.add(p.time);
      got.set(p.value as number, s);
    }
    return [...mustArrive].filter(([v, time]) => !got.get(v)?.has(time)).map(([v]) => v);
  };
  await emu.waitFor(() => missing().length === 0, 60_000, "every committed value delivered with its time").catch((err: Error) => {
    const gone = missing();
    const otherTime = gone.filter((v) => p0().some((p) => p.value === v)).map((v) => `${v}@${mustArrive.get(v)}:${p0().filter((p) => p.value === v).map((p) => p.time).join("/")}`);
    const db = new Database(join(rig.dataDir, "fieldbridge.db"), { readonly: true, fileMustExist: true });
    const waiting = db.prepare("SELECT kind, COUNT(*) AS n FROM records GROUP BY kind").all();
    db.close();
    throw new Error(
      `${err.message}; missing ${gone.length} of ${mustArrive.size}: ${gone.slice(0, 20).join(",")}; arrived with another time: ${otherTime.slice(0, 10).join(" ")}; ` +
      `waiting now ${JSON.stringify(waiting)}; drops logged ${JSON.stringify([...drops, ...droppedIn(d)].slice(0, 5))}; rejected ${JSON.stringify(emu.rejected.slice(-5))}\n${d.stdout.slice(-4000)}`,
    );
  });
  const arrived = new Set(p0().map((p) => p.value as number));
  const lostAccepted = [...acceptedAtKills].filter((v) => !arrived.has(v));
  assert.deepEqual(lostAccepted, [], "accepted values stay accepted");

  assert.deepEqual([...drops, ...droppedIn(d)], [], "no record given up");

  const counts = new Map<number, number>();
  for (const p of p0()) counts.set(p.value as number, (counts.get(p.value as number) ?? 0) + 1);
  const dups = [...counts].filter(([, n]) => n > 1);
  t.diagnostic(
    `kills ${KILLS} (${duringStart} while starting), outages ${outages}, counter reached ${counter}, committed values checked ${mustArrive.size}, ` +
    `P0 values accepted ${counts.size} (${p0().length} uplinks), duplicates ${dups.length} value(s)` +
    (dups.length ? `: ${dups.slice(0, 15).map(([v, n]) => `${v}x${n}`).join(" ")}` : ""),
  );
  assert.ok(mustArrive.size >= 20, `values committed at the kills: ${mustArrive.size}`);
  // The soak is about what survives kills; a clean SIGTERM stop is asserted by the contract suite on every platform.
  // Here an unclean one is reported with what the daemon printed, to be looked into.
  const stopped = await d.stop("SIGTERM");
  if (stopped.code !== 0) t.diagnostic(`the final stop was not clean: ${JSON.stringify(stopped)}\n${d.stdout.slice(-2000)}\n${d.stderr.slice(-1000)}`);
});
