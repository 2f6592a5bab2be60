/**
 * The Alibaba adapter's answers for remote configuration and tags, in-process against the emulator: 6713 stops the
 * requests until restart, malformed pushes and oversized or undownloadable files get their codes, and tags the
 * platform refused (460, 6100) are not sent again while they are unchanged, whereas unacknowledged ones are.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { startHarness, until } from "../helpers/harness.js";
import { GATEWAY } from "../helpers/daemon.js";

const gw = GATEWAY;
const gwKey = `${gw.productKey}/${gw.deviceName}`;
const WAIT_MS = 10_000;

test("6713 stops the requests until restart; pushes: malformed 460, not Sha256 460, over 64 KB 460, download failure 100010", async (t) => {
  const h = await startHarness({ noStart: true });
  t.after(() => h.stop());
  const { emu } = h;
  emu.setRemoteConfig(gw.productKey, "disabled");
  await h.gw.start();
  const gets = () => emu.received("/sys/+/+/thing/config/get").length;
  await until(() => h.logText().includes("remote configuration is not enabled for this product"), WAIT_MS, "6713 handled");
  await emu.outage();
  await until(() => !h.alink.link.connected, WAIT_MS, "down");
  await emu.restore();
  await until(() => h.alink.link.connected, WAIT_MS, "up again");
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(gets(), 1, "not asked again after 6713");
  assert.equal(h.logs().filter((l) => String(l["msg"]).startsWith("remote configuration is not enabled")).length, 1, "logged once");

  const entry = emu.setRemoteConfig(gw.productKey, { log: { level: "warn" } }, { configId: "cfg-x" })!;
  const push = (params: unknown) => emu.pushRemoteConfig(gw, { params, timeoutMs: WAIT_MS });
  for (const params of [{ configId: "cfg-x" }, { ...entry, signMethod: "Md5" }, { ...entry, sign: "" }, "x"]) {
    const r = await push(params);
    assert.equal(r.code, 460, JSON.stringify(params));
  }
  assert.equal((await push({ ...entry, configSize: 70_000 })).code, 460, "announced over 64 KB");
  emu.files.behave(new URL(entry.url).pathname.slice(1), { status: 404 });
  const failed = await push(entry);
  assert.equal(failed.code, 100010, failed.message);
  assert.equal(h.gw.remoteSettings().id, null, "nothing applied");
  assert.equal(h.gw.remoteSettings().lastError?.stage, "download");
  emu.files.behave(new URL(entry.url).pathname.slice(1), null);
  assert.equal((await push(entry)).code, 200);
  assert.equal(h.gw.remoteSettings().id, "cfg-x");
  assert.equal(h.gw.logger.level, "warn", "applied to the running logger");
});

test("tags the platform refused are not sent again until they change; unacknowledged ones are sent at the next connect", async (t) => {
  const h = await startHarness({ noStart: true, config: { aliyun: { tags: { line: "3" } } } });
  t.after(() => h.stop());
  const { emu } = h;
  const updates = () => emu.received(`/sys/${gw.productKey}/${gw.deviceName}/thing/deviceinfo/update`).length;
  const bounce = async () => {
    await emu.outage();
    await until(() => !h.alink.link.connected, WAIT_MS, "down");
    await emu.restore();
    await until(() => h.alink.link.connected, WAIT_MS, "up again");
    await new Promise((r) => setTimeout(r, 500));
  };

  emu.failNext("tags", 460, { device: gwKey, message: "request parameter error" });
  await h.gw.start();
  await until(() => h.logText().includes("the platform refused the tags as invalid"), WAIT_MS, "460 logged");
  assert.equal(updates(), 1);
  await bounce();
  assert.equal(updates(), 1, "the refused set is not sent again");
  assert.deepEqual(emu.tags(gwKey), {});

  // A changed set (another version after a restart) is sent; a 6100 is not retried either.
  await h.gw.stop();
  const { writeFileSync, readFileSync } = await import("node:fs");
  const cfg = JSON.parse(readFileSync(h.rig.configFile, "utf8")) as { aliyun: { tags: Record<string, string> } };
  cfg.aliyun.tags["line"] = "4";
  writeFileSync(h.rig.configFile, JSON.stringify(cfg));
  emu.failNext("tags", 6100, { device: gwKey, message: "device not found" });
  await h.restart();
  await until(() => h.logText().includes("the platform does not know the device"), WAIT_MS, "6100 logged");
  assert.equal(updates(), 2);
  await bounce();
  assert.equal(updates(), 2, "not retried after 6100");

  // No reply at all (the platform lost it): sent again at the next connect, then remembered.
  await h.gw.stop();
  cfg.aliyun.tags["line"] = "5";
  writeFileSync(h.rig.configFile, JSON.stringify(cfg));
  emu.failNext("tags", 0, { device: gwKey });
  await h.restart();
  await until(() => updates() === 3, WAIT_MS, "third update");
  await bounce();
  await emu.waitFor(() => emu.tags(gwKey)["line"] === "5", WAIT_MS, "tags stored after the retry");
  const sent = updates();
  await bounce();
  assert.equal(updates(), sent, "acknowledged tags are not sent again");
});
