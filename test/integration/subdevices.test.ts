import { test } from "node:test";
import assert from "node:assert/strict";
import { startHarness, until } from "../helpers/harness.js";
import { modbusDoc, meterTsl, deviceName, METER } from "../helpers/gwdoc.js";
import { GATEWAY, secretsIn } from "../helpers/daemon.js";

const gw = GATEWAY;

function keys(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${METER}/${deviceName("meter", i)}`);
}

test("30 sub-devices are registered, topo-added and logged in; after an outage every one logs in again before its data is accepted", async (t) => {
  const h = await startHarness({ driver: { periodMs: 200 } });
  t.after(() => h.stop());
  const { emu } = h;
  emu.addProduct(METER, { tsl: meterTsl(3), dynamicRegistration: true });
  for (const k of keys(30)) emu.addDevice({ productKey: METER, deviceName: k.split("/")[1]! });
  await until(() => h.alink.link.connected, 10_000, "gateway connected");

  const push = await emu.pushConfig(gw, modbusDoc({ devices: 30, points: 3 }));
  assert.equal(push.reply.code, 200, push.reply.message);
  await emu.waitFor(() => emu.onlineSessions(gw).length === 30, 15_000, "30 sessions");
  assert.equal(emu.topo(gw).length, 30);
  assert.equal(emu.logins.filter((l) => l.code === 200).length, 30);
  // Secrets came from dynamic registration and are stored, never logged.
  const secrets = keys(30).map((k) => emu.device(METER, k.split("/")[1]!).secret!);
  for (const k of keys(30)) assert.ok(h.gw.store.secrets.get(METER, k.split("/")[1]!));
  await emu.waitFor(() => keys(30).every((k) => emu.accepted.properties.some((p) => p.deviceKey === k)), 10_000, "data of all 30");

  // Outage: sessions die with the connection; on return every device logs in again first.
  await emu.outage();
  await until(() => !h.alink.link.connected, 5000, "disconnect");
  await new Promise((r) => setTimeout(r, 1500));
  const restoredAt = Date.now();
  await emu.restore();
  await emu.waitFor(() => emu.onlineSessions(gw).length === 30, 15_000, "30 sessions again");
  await emu.waitFor(() => keys(30).every((k) => emu.accepted.properties.some((p) => p.deviceKey === k && p.time >= restoredAt - 1500)), 15_000, "data after outage");
  for (const k of keys(30)) {
    const login = emu.logins.find((l) => l.deviceKey === k && l.code === 200 && l.time >= restoredAt);
    assert.ok(login, `${k} logged in again`);
  }
  // Data before a login would have been refused (pack post 520, or /ext/error 520): none was.
  assert.equal(emu.rejected.filter((r) => r.code === 520).length, 0, JSON.stringify(emu.rejected.slice(0, 3)));
  assert.equal(emu.received((m) => m.topic.startsWith("/ext/error")).length, 0);
  assert.deepEqual(secretsIn(h.logText(), [...secrets, gw.deviceSecret]), []);
});

async function fleet(n: number, points = 2, config: Record<string, unknown> = {}, emuOpts: { kickNoticeTopic?: "ext_error" } = {}) {
  const { CloudEmulator } = await import("../../src/sim/cloud/aliyun/index.js");
  const emu = await CloudEmulator.start({ ...emuOpts });
  const h = await startHarness({ driver: { periodMs: 200, value: (_k, id, s) => (id === "Level" ? 1.5 : id === "Status" ? 1 : s % 100) }, emu, config });
  const stop = async () => {
    await h.stop();
    await emu.close();
  };
  emu.addProduct(METER, { tsl: meterTsl(points), dynamicRegistration: true });
  for (const k of keys(n)) emu.addDevice({ productKey: METER, deviceName: k.split("/")[1]! });
  await until(() => h.alink.link.connected, 10_000, "connected");
  const push = await emu.pushConfig(gw, modbusDoc({ devices: n, points }));
  assert.equal(push.reply.code, 200, push.reply.message);
  await emu.waitFor(() => emu.onlineSessions(gw).length === n, 15_000, `${n} sessions`);
  await until(() => h.alink.subs.onlineCount() === n, 5000, "online with subscriptions");
  return { h, emu, stop };
}

const ref = (k: string) => ({ productKey: k.split("/")[0]!, deviceName: k.split("/")[1]! });

test("disable, enable and delete stop, resume and remove the device with logout and login, each answered 200", async (t) => {
  const { h, emu, stop } = await fleet(3);
  t.after(stop);
  const [a, b] = keys(3);
  const da = ref(a!);

  const dis = await emu.disable(da);
  assert.equal(dis?.code, 200);
  await until(() => h.alink.subs.state(a!)?.status === "disabled", 5000, "disabled");
  assert.ok(h.driver.events.some((e) => e.type === "remove" && e.key === a), "polling of the disabled device stopped");
  assert.equal(emu.onlineSessions(gw).length, 2);
  const since = Date.now();
  await new Promise((r) => setTimeout(r, 800));
  assert.equal(emu.accepted.properties.filter((p) => p.deviceKey === a && p.time > since).length, 0, "no data while disabled");
  assert.ok(emu.accepted.properties.some((p) => p.deviceKey === b && p.time > since), "the others keep reporting");

  const en = await emu.enable(da);
  assert.equal(en?.code, 200);
  await emu.waitFor(() => emu.onlineSessions(gw).some((s) => s.deviceKey === a), 5000, "re-login after enable");
  await emu.waitFor(() => emu.accepted.properties.some((p) => p.deviceKey === a && p.time > Date.now() - 500), 5000, "data after enable");

  const del = await emu.deleteDevice(ref(b!));
  assert.equal(del?.code, 200);
  await until(() => h.alink.subs.state(b!)?.status === "deleted", 5000, "deleted");
  assert.equal(h.gw.store.secrets.get(METER, b!.split("/")[1]!), undefined, "secret forgotten");
  const registrations = emu.received((m) => m.topic.endsWith("/thing/sub/register")).length;
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal(emu.received((m) => m.topic.endsWith("/thing/sub/register")).length, registrations, "not registered again on its own");
  assert.ok(!emu.onlineSessions(gw).some((s) => s.deviceKey === b));
});

test("each login error code leads to its action", async (t) => {
  const { h, emu, stop } = await fleet(6);
  t.after(stop);
  const k = keys(6);
  const logins = (key: string) => emu.logins.filter((l) => l.deviceKey === key);
  const bounce = async (key: string, code: number) => {
    await until(() => h.alink.subs.state(key)?.status === "online" && emu.onlineSessions(gw).some((s) => s.deviceKey === key), 8000, `${key} online before the bounce`);
    emu.failNext("login", code, { device: key });
    assert.ok(emu.kick(ref(key), 6401, { message: "session reset by test" }), `${key} had a session to end`);
  };

  // 6401: topo add, then retry → online again.
  const topoAddsBefore = emu.received((m) => m.topic.endsWith("/thing/topo/add")).length;
  await bounce(k[0]!, 6401);
  await emu.waitFor(() => logins(k[0]!).some((l) => l.code === 6401), 5000, "6401 seen");
  await emu.waitFor(() => emu.onlineSessions(gw).some((s) => s.deviceKey === k[0]), 8000, "online after 6401");
  assert.ok(emu.received((m) => m.topic.endsWith("/thing/topo/add")).length > topoAddsBefore, "topo add sent");

  // 6287: the stored (registered) secret is forgotten and the device registered again, once → online.
  const regBefore = emu.received((m) => m.topic.endsWith("/thing/sub/register")).length;
  await bounce(k[1]!, 6287);
  await emu.waitFor(() => logins(k[1]!).some((l) => l.code === 6287), 5000, "6287 seen");
  await emu.waitFor(() => emu.onlineSessions(gw).some((s) => s.deviceKey === k[1]), 8000, "online after 6287");
  assert.equal(emu.received((m) => m.topic.endsWith("/thing/sub/register")).length, regBefore + 1, "registered again once");

  // 521 / 522: the device stops and is reported; no retry.
  await bounce(k[2]!, 521);
  await bounce(k[3]!, 522);
  await until(() => h.alink.subs.state(k[2]!)?.status === "deleted" && h.alink.subs.state(k[3]!)?.status === "disabled", 8000, "521/522 states");
  // 429: backs off (no new attempt for a while); 428: every login is held.
  await bounce(k[4]!, 429);
  await emu.waitFor(() => logins(k[4]!).some((l) => l.code === 429), 8000, "429 seen");
  const n2 = logins(k[2]!).length, n3 = logins(k[3]!).length, n4 = logins(k[4]!).length;
  await new Promise((r) => setTimeout(r, 2000));
  assert.equal(logins(k[2]!).length, n2, "no login retry after 521");
  assert.equal(logins(k[3]!).length, n3, "no login retry after 522");
  assert.equal(logins(k[4]!).length, n4, "no tight retry after 429");
  assert.equal(h.alink.subs.state(k[4]!)?.status, "waiting");
  assert.match(h.alink.subs.state(k[4]!)?.reason ?? "", /429/);

  // 427 (logged in elsewhere): conflict, not logged in again automatically.
  emu.kick(ref(k[5]!), 427);
  await until(() => h.alink.subs.state(k[5]!)?.status === "conflict", 5000, "conflict");
  const n5 = logins(k[5]!).length;
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal(logins(k[5]!).length, n5, "no re-login after 427");
});

test("/ext/error 520 (no session on the platform) leads to a new login", async (t) => {
  const { h, emu, stop } = await fleet(2, 2, {}, { kickNoticeTopic: "ext_error" });
  t.after(stop);
  const k = keys(2);
  const before = emu.logins.filter((l) => l.deviceKey === k[0] && l.code === 200).length;
  emu.kick(ref(k[0]!), 520, { message: "device session error" });
  await emu.waitFor(() => emu.logins.filter((l) => l.deviceKey === k[0] && l.code === 200).length > before, 8000, "re-login after 520");
  await until(() => h.alink.subs.state(k[0]!)?.status === "online", 5000, "online again");
  assert.ok(h.logs().some((l) => l.msg === "sub-device session lost; logging in again" && l.device === k[0]));
});

test("428 holds every further login", async (t) => {
  const { h, emu, stop } = await fleet(3);
  t.after(stop);
  const k = keys(3);
  emu.failNext("login", 428, { device: k[0] });
  emu.kick(ref(k[0]!), 6401);
  await emu.waitFor(() => emu.logins.some((l) => l.deviceKey === k[0] && l.code === 428), 8000, "428 seen");
  emu.kick(ref(k[1]!), 6401);
  const n = emu.logins.length;
  await new Promise((r) => setTimeout(r, 2000));
  assert.equal(emu.logins.length, n, "no login at all while held");
  assert.match(h.alink.subs.state(k[1]!)?.reason ?? "", /6401|topology/);
});

test("property set: unknown identifier, read-only property and out-of-range value are answered 460 and nothing is written", async (t) => {
  const { h, emu, stop } = await fleet(1);
  t.after(stop);
  const d = ref(keys(1)[0]!);
  for (const params of [{ Nope: 1 }, { Status: 3 }, { Setpoint: 101 }, { Setpoint: "abc" }, { Setpoint: 50, Status: 1 }]) {
    const r = await emu.setProperty(d, params);
    assert.equal(r.code, 460, JSON.stringify(params));
    assert.ok(r.message && r.message.length > 0);
  }
  assert.deepEqual(h.driver.writes, []);
  const ok = await emu.setProperty(d, { Setpoint: "42", Level: 2.5 });
  assert.equal(ok.code, 200, ok.message);
  assert.deepEqual(h.driver.writes, [{ key: keys(1)[0], values: { Setpoint: 42, Level: 2.5 } }]);
  const { FieldError } = await import("../../src/field/driver.js");
  h.driver.failWrites = new FieldError("timeout", "field device timeout");
  const failed = await emu.setProperty(d, { Setpoint: 7 });
  assert.equal(failed.code, 100001);
  // A service the thing model does not define; and property get from the latest values.
  assert.equal((await emu.callService(d, "Reboot", {})).code, 460);
  await emu.waitFor(() => h.gw.things.latest(keys(1)[0]!).has("P0"), 3000, "a sample");
  const got = await emu.getProperty(d, ["P0", "Level"]);
  assert.equal(got.code, 200);
  assert.equal((got.data as Record<string, unknown>)["Level"], 1.5);
});

test("one poll cycle of 100 sub-devices x 10 points leaves as at most 5 pack posts", async (t) => {
  // 7 P-points + Setpoint, Level and Status = 10 points per device.
  const { h, emu, stop } = await fleet(100, 7);
  t.after(stop);
  // Stop the periodic driver; emit exactly one cycle now that all 100 are online.
  for (const c of h.driver.channels.values()) await c.stop();
  await new Promise((r) => setTimeout(r, 500));
  const t0 = Date.now() + 1;
  const mark = emu.received().length;
  const cycleTime = Date.now() + 10;
  for (const c of h.driver.channels.values()) c.emitAll(cycleTime);
  await emu.waitFor(() => emu.accepted.properties.filter((p) => p.time === cycleTime).length === 100 * 10, 10_000, "all values of the cycle");
  const msgs = emu.received().slice(mark).filter((m) => m.topic.includes("/thing/event/property/") && m.payload.toString().includes(`"time":${cycleTime}`));
  assert.ok(msgs.every((m) => m.topic.endsWith("/pack/post")), msgs.map((m) => m.topic).join(","));
  assert.ok(msgs.length <= 5, `messages: ${msgs.length}`);
  const values = emu.accepted.properties.filter((p) => p.time === cycleTime);
  assert.equal(values.length, 1000);
  assert.ok(t0 > 0);
});

test("the online cap is respected exactly, also while logins complete during a paced pass", async (t) => {
  const { CloudEmulator } = await import("../../src/sim/cloud/aliyun/index.js");
  const emu = await CloudEmulator.start({});
  const h = await startHarness({ driver: { periodMs: 200, value: (_k, id, s) => (id === "Level" ? 1.5 : id === "Status" ? 1 : s % 100) }, emu, config: { sessions: { maxOnline: 3, loginsPerSecond: 1 } } });
  t.after(async () => {
    await h.stop();
    await emu.close();
  });
  emu.addProduct(METER, { tsl: meterTsl(1), dynamicRegistration: true });
  for (const k of keys(5)) emu.addDevice({ productKey: METER, deviceName: k.split("/")[1]! });
  await until(() => h.alink.link.connected, 10_000, "connected");
  assert.equal((await emu.pushConfig(gw, modbusDoc({ devices: 5, points: 1 }))).reply.code, 200);
  await emu.waitFor(() => emu.onlineSessions(gw).length === 3, 10_000, "three online");
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(emu.onlineSessions(gw).length, 3, "never more than the cap");
  assert.equal(h.alink.subs.onlineCount(), 3);
  assert.ok(h.logs().some((l) => l.msg === "online sub-device cap reached; further logins wait"));
});

test("a lifecycle command that is not a valid request changes nothing: garbage on thing/disable disables no device", async (t) => {
  const { h, emu, stop } = await fleet(2);
  t.after(stop);
  const [a] = keys(2);
  const topic = `/sys/${a}/thing/disable`;
  const writesBefore = h.driver.writes.length;
  emu.sendRaw(topic, "this is not json");
  emu.sendRaw(topic, "[1,2,3]");
  emu.sendRaw(topic, JSON.stringify({ version: "1.0", params: {}, method: "thing.disable" }));
  emu.sendRaw(topic, JSON.stringify({ id: "77", version: "1.0", params: {}, method: "thing.enable" }));
  await emu.waitFor(() => emu.received((m) => m.topic === `${topic}_reply`).length >= 1, 5000, "the refusal of the request with an id");
  const refusal = emu.received((m) => m.topic === `${topic}_reply`)[0]!.json as { id: string; code: number };
  assert.deepEqual([refusal.id, refusal.code], ["77", 460]);
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(h.alink.subs.state(a!)?.status, "online", "still online");
  assert.ok(!h.driver.events.some((e) => e.type === "remove" && e.key === a), "polling not stopped");
  assert.equal(h.driver.writes.length, writesBefore, "nothing written");
  assert.equal(h.logs().filter((l) => l.msg === "malformed lifecycle command (not an Alink request); ignored").length, 4, "each logged once");
});

test("40 malformed downlinks: no crash, no write, a 460 where the request carries an id", async (t) => {
  const { h, emu, stop } = await fleet(1);
  t.after(stop);
  const [a] = keys(1);
  const base = `/sys/${a}`;
  const topics = [`${base}/thing/service/property/set`, `${base}/thing/service/property/get`, `${base}/thing/service/Reboot`, `${base}/rrpc/request/123`];
  const bodies: Array<string | Buffer> = [
    "", "not json", "{", "null", "42", "\"text\"", "[]", "[{}]", Buffer.from([0xff, 0xfe, 0x00]),
    JSON.stringify({ id: "m1" }),
  ];
  let n = 0;
  for (const t2 of topics) for (const b of bodies) {
    emu.sendRaw(t2, b);
    n++;
  }
  assert.equal(n, 40);
  const withId = [
    [`${base}/thing/service/property/set`, { id: "x1", params: "bad" }],
    [`${base}/thing/service/property/set`, { id: "x2", params: { Nope: 1 } }],
    [`${base}/thing/service/property/set`, { id: "x3", params: { Setpoint: 1000 } }],
    [`${base}/thing/service/property/get`, { id: "x4", params: { identifiers: [1, 2] } }],
    [`${base}/thing/service/Reboot`, { id: "x5", params: [] }],
  ] as const;
  for (const [t2, body] of withId) emu.sendRaw(t2, JSON.stringify({ version: "1.0", method: "x", ...body }));
  await emu.waitFor(() => withId.every(([t2, body]) => emu.received((m) => m.topic === `${t2}_reply` && (m.json as { id?: string })?.id === body.id).length > 0), 5000, "a reply to each request with an id");
  for (const [t2, body] of withId) {
    const reply = emu.received((m) => m.topic === `${t2}_reply` && (m.json as { id?: string })?.id === body.id)[0]!.json as { code: number };
    assert.equal(reply.code, 460, `${t2} ${JSON.stringify(body)}`);
  }
  assert.deepEqual(h.driver.writes, [], "nothing written");
  assert.equal(h.alink.subs.state(a!)?.status, "online");
  const ok = await emu.setProperty(ref(a!), { Setpoint: 5 });
  assert.equal(ok.code, 200, "the gateway still answers valid requests");
});
