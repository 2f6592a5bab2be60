/**
 * A document without a tslList entry for a product, through the shipped CLI against the Alibaba emulator: the
 * product's model is fetched with thing.dsltemplate.get through one of its devices, checked, cached, and its devices
 * post values only then; after a restart with the broker down they are polled from the cache. A template that fails
 * the document's checks is refused: nothing of that product is polled, the other products run.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { DaemonProcess } from "../../helpers/cli.js";
import { COUNTER, counterTsl, gatewayDoc, startRig, until, sleep, type Rig } from "./rig.js";

const LISTED = "a1Listed";
const FETCHED = "a1Fetched";
const BAD = "a1BadTsl";
const dev = { listed: `${LISTED}/listed-01`, fetched: `${FETCHED}/fetched-01`, bad: `${BAD}/bad-01` };

describe("aliyun: thing models from the cloud (thing.dsltemplate.get)", () => {
  let rig: Rig;
  let daemon: DaemonProcess | undefined;
  const start = () => (daemon = new DaemonProcess(["run", "--config", rig.configFile]));
  const values = (device: string, value?: number) =>
    rig.emu.accepted.properties.filter((p) => p.deviceKey === device && p.identifier === "Counter" && (value === undefined || p.value === value));
  const dslOf = (device: string) => rig.emu.discovery.dslRequests.filter((r) => r.deviceKey === device);

  before(async () => {
    rig = await startRig({ units: [1, 2, 3] });
    for (const [pk, name] of [[LISTED, "listed-01"], [FETCHED, "fetched-01"], [BAD, "bad-01"]] as const) {
      rig.emu.addProduct(pk, { tsl: counterTsl(pk), dynamicRegistration: true });
      rig.emu.addDevice({ productKey: pk, deviceName: name });
    }
    // The cloud's model of this product calls Counter a text: the document maps a uint16 register onto it.
    rig.emu.discovery.templates.set(BAD, { ...counterTsl(BAD, "Counter", "text"), profile: { productKey: BAD, deviceName: "bad-01" } });
    writeFileSync(rig.docFile, gatewayDoc(rig.sim.port, [
      { productKey: LISTED, deviceName: "listed-01", unit: 1 },
      { productKey: FETCHED, deviceName: "fetched-01", unit: 2 },
      { productKey: BAD, deviceName: "bad-01", unit: 3 },
    ], [counterTsl(LISTED)]));
  });
  after(async () => {
    await daemon?.stop("SIGKILL");
    await rig?.close();
  });

  test("the fetched product's device posts once its template arrived; the refused one is not polled and is shown in /status", async () => {
    rig.sim.setHolding(1, COUNTER, [7]);
    rig.sim.setHolding(2, COUNTER, [9]);
    rig.sim.setHolding(3, COUNTER, [5]);
    start();
    await until(() => values(dev.listed, 7).length > 0 && values(dev.fetched, 9).length > 0, 30_000, "values of the listed and the fetched product");
    const asked = dslOf(dev.fetched).find((r) => r.code === 200);
    assert.ok(asked, "the template was asked under the fetched product's device");
    assert.ok(values(dev.fetched)[0]!.time >= asked.time, "no value of the fetched product was sampled before its template arrived");
    assert.equal(dslOf(dev.listed).length, 0, "a product in tslList is not fetched");

    const refused = await daemon!.waitForLog((l) => l["msg"] === "TSL template from the cloud refused: its devices stay unpolled" && l["product"] === BAD, 15_000);
    const problems = refused["problems"] as string[];
    assert.ok(problems.some((p) => /uint16 cannot feed the text property "Counter"/.test(p)), `problems name the mismatch: ${problems.join("; ")}`);
    assert.ok(problems.every((p) => !p.includes("tslList[")), "problems point at the cloud template, not at a tslList index");
    await sleep(1500);
    assert.equal(values(dev.bad).length, 0, "nothing of the refused product reaches the cloud");
    assert.equal(rig.sim.requestsByUnit.get(3) ?? 0, 0, "the refused product's device is never polled");
    assert.equal(daemon!.logs().filter((l) => l["msg"] === "TSL template from the cloud refused: its devices stay unpolled").length, 1, "the refusal is logged once");

    const status = (await (await fetch(`http://127.0.0.1:${rig.httpPort}/status`)).json()) as { cloudTsl?: Array<{ productKey: string; state: string; problems?: string[] }> };
    const byPk = new Map((status.cloudTsl ?? []).map((s) => [s.productKey, s]));
    assert.equal(byPk.get(FETCHED)?.state, "cached");
    assert.equal(byPk.get(BAD)?.state, "refused");
    assert.ok((byPk.get(BAD)?.problems ?? []).length > 0);
    assert.equal(byPk.has(LISTED), false);
  });

  test("after a restart with the broker down, the fetched product is polled from the cache; its values arrive once the broker is back", async () => {
    const askedBefore = dslOf(dev.fetched).length;
    await daemon!.stop("SIGTERM");
    await rig.emu.outage();
    rig.sim.setHolding(2, COUNTER, [11]);
    start();
    await daemon!.waitForLog((l) => l["msg"] === "gateway config applied", 15_000);
    // Sampled while the broker is down: only possible with the cached model.
    await until(() => (rig.sim.requestsByUnit.get(2) ?? 0) > 0, 10_000, "the fetched product's device polled during the outage");
    await sleep(1000);
    const restoredAt = Date.now();
    await rig.emu.restore();
    await until(() => values(dev.fetched, 11).length > 0, 30_000, "the value sampled during the outage");
    assert.ok(values(dev.fetched, 11)[0]!.time < restoredAt, "the value was sampled before the broker came back");
    assert.equal(dslOf(dev.fetched).length, askedBefore, "the cached template was used: not asked again");
    assert.equal(rig.sim.requestsByUnit.get(3) ?? 0, 0, "the refused product stays unpolled after the restart");
  });
});
