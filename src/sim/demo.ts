/**
 * `fieldbridge demo [--platform <name>]`: everything local and in one process — the platform's cloud emulator on an
 * in-process broker, a Modbus TCP simulator and an OPC UA simulator with moving values, and the real gateway
 * connected to them. A sample gateway config document is delivered the platform's way (HTTPS download, digest,
 * validation, apply); the terminal shows the devices, their state and the values the cloud accepted.
 */
import { mkdtempSync, rmSync, mkdirSync, createWriteStream, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ModbusTcpSimulator } from "./modbus/index.js";
import { OPCUA_USER, meterTsl, boilerTsl, demoGatewayConfig } from "./demo-config.js";
import { loadWorld } from "./worlds.js";
import type { PlatformName } from "../cloud/platform.js";
import { validateBootstrap } from "../config/bootstrap/load.js";
import { createLogger } from "../ops/logger.js";
import { Gateway } from "../core/gateway.js";
import { loadNodeOpcua } from "../field/opcua/ua.js";
import { OpsServer } from "../ops/http.js";
import { statusPage } from "../core/status-page.js";
import { LogRing } from "../ops/log-ring.js";

export interface DemoOptions {
  /** host:port of the status endpoint (default 127.0.0.1:9180; "off" disables it). */
  http?: string;
  /** Keep state here instead of a temporary folder. */
  dataDir?: string;
  /** The cloud to emulate (default aliyun). */
  platform?: PlatformName;
}

function floatRegs(v: number): number[] {
  const b = Buffer.alloc(4);
  b.writeFloatBE(v);
  return [b.readUInt16BE(0), b.readUInt16BE(2)];
}

function u32Regs(v: number): number[] {
  return [Math.floor(v / 65536) & 0xffff, v & 0xffff];
}

export async function runDemo(opts: DemoOptions = {}): Promise<number> {
  const tty = process.stdout.isTTY === true;
  const dir = opts.dataDir ?? mkdtempSync(join(tmpdir(), "fieldbridge-demo-"));
  mkdirSync(dir, { recursive: true });
  const out = (s: string) => process.stdout.write(s);
  const platform = opts.platform ?? "aliyun";
  out(`fieldbridge demo: starting on platform ${platform} (state and logs in ${dir})\n`);

  // The cloud.
  const world = await (await loadWorld(platform))({ tls: true });
  const names = { meter: world.naming(2, 0), boiler: world.naming(1, 1) };
  await world.provision(names.meter, meterTsl(names.meter.product));
  await world.provision(names.boiler, boilerTsl(names.boiler.product));
  const keyOf = (n: { product: string; devices: string[] }) => n.devices.map((d) => `${n.product}/${d}`);
  out(`devices: Modbus meters ${keyOf(names.meter).join(", ")}; OPC UA boiler ${keyOf(names.boiler).join(", ")}\n`);

  // The field: two Modbus meters with moving registers, one OPC UA boiler.
  const modbus = await ModbusTcpSimulator.start({ units: [1, 2] });
  let energy = [12_000, 54_000];
  let tick = 0;
  const move = () => {
    tick++;
    [1, 2].forEach((unit, i) => {
      const v = 230 + 4 * Math.sin(tick / 5 + i) + Math.random();
      modbus.setHolding(unit, 0, [...floatRegs(v), ...floatRegs(10 + 5 * Math.sin(tick / 7 + i))]);
      energy[i] = energy[i]! + 3 + i;
      modbus.setInput(unit, 0, u32Regs(energy[i]!));
      if (tick % 10 === 0) modbus.setCoils(unit, 0, [tick % 20 === 0]);
    });
  };
  [1, 2].forEach((unit) => modbus.setHolding(unit, 10, [50]));
  move();
  const mover = setInterval(move, 500);
  // node-opcua loads quietly through the driver's loader (its warnings go to the log file, not the terminal).
  const logFile = join(dir, "fieldbridge.log");
  const logRing = new LogRing(50);
  const logger = createLogger("info", createWriteStream(logFile, { flags: "a" }), logRing);
  await loadNodeOpcua(logger);
  const { startOpcuaSimulator } = await import("./opcua/index.js");
  const opcua = await startOpcuaSimulator({
    port: 0, pkiDir: join(dir, "opcua-server-pki"), users: [OPCUA_USER],
    devices: [{
      path: "Plant/Boiler1",
      variables: [
        { name: "Temperature", dataType: "Double", value: 80, motion: { kind: "sine", offset: 80, amplitude: 15, periodMs: 20_000 } },
        { name: "Pressure", dataType: "Double", value: 2.5, motion: { kind: "random", min: 2.2, max: 2.8 } },
        { name: "Burner", dataType: "Boolean", value: true, motion: { kind: "toggle" } },
        { name: "TargetTemperature", dataType: "Double", value: 85 },
      ],
      methods: [{
        name: "Add", inputs: [{ name: "a", dataType: "Double" }, { name: "b", dataType: "Double" }], outputs: [{ name: "sum", dataType: "Double" }],
        run: ([a, b]) => [Number(a) + Number(b)],
      }],
    }],
    motionIntervalMs: 1000,
  });

  // The gateway, configured as on a real box but pointed at the local emulator (whose CA it trusts).
  const caFile = join(dir, "demo-ca.pem");
  writeFileSync(caFile, world.caPem);
  const base = world.bootstrap() as { mqtt: Record<string, unknown> } & Record<string, unknown>;
  const cfg = validateBootstrap({
    ...base,
    mqtt: { ...base.mqtt, caFile },
    dataDir: join(dir, "data"),
    download: { caFile },
    log: { level: "info" },
  }, dir);
  const gw = new Gateway(cfg, logger);
  await gw.start();
  let ops: OpsServer | undefined;
  const listen = opts.http ?? "127.0.0.1:9180";
  if (listen !== "off") {
    ops = new OpsServer(listen, statusPage(gw, gw.metrics, logRing).handlers, logger);
    await ops.start().catch((err: Error) => {
      out(`status endpoint not started (${err.message})\n`);
      ops = undefined;
    });
  }

  // The document, through the real path: the emulator hosts it on HTTPS and delivers it the platform's way.
  const doc = Buffer.from(JSON.stringify(demoGatewayConfig(names, modbus.port, opcua.endpointUrl, world.encryptPassword(OPCUA_USER.password))));
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      const r = await world.deliverDocument(doc, 20_000);
      out(`gateway config delivered: ${r.ok ? "applied" : "refused"} (${String(r.code ?? "")}${r.message ? ` ${r.message}` : ""})\n`);
      break;
    } catch (err) {
      // The gateway may not be connected yet.
      if (Date.now() > deadline) {
        out(`gateway config not delivered: ${(err as Error).message}\n`);
        break;
      }
      await new Promise((r) => setTimeout(r, 300));
    }
  }
  if (ops) out(`status page: http://${listen}/   status: http://${listen}/status   metrics: http://${listen}/metrics\n`);

  const render = () => {
    const accepted = world.accepted();
    const lines: string[] = [];
    lines.push(`fieldbridge demo (${platform}) — cloud ${gw.cloudStatus().connected ? "connected" : "DISCONNECTED"}, ${accepted.length} values accepted by the cloud, outbox ${gw.outbox().depth}`);
    lines.push("");
    const devices = gw.appliedConfig()?.devices ?? [];
    const width = Math.max(26, ...devices.map((d) => d.key.length + 2));
    lines.push(`${"device".padEnd(width)}${"state".padEnd(16)}values accepted by the cloud (latest)`);
    const states = new Map(gw.cloudStatus().devices.map((c) => [c.device, c.state]));
    for (const d of devices) {
      const st = states.get(d.key) ?? "waiting";
      const latest = new Map<string, unknown>();
      let n = 0;
      for (const p of accepted) if (p.device === d.key) {
        latest.set(p.identifier, p.value);
        n++;
      }
      const vals = [...latest].map(([k, v]) => `${k}=${typeof v === "number" ? Math.round(v * 100) / 100 : String(v)}`).join(" ");
      lines.push(`${d.key.padEnd(width)}${st.padEnd(16)}[${n}] ${vals}`);
    }
    lines.push("", "Ctrl-C stops the demo.");
    out(tty ? `\x1b[2J\x1b[H${lines.join("\n")}\n` : `${lines.join("\n")}\n\n`);
  };
  const view = setInterval(render, tty ? 1000 : 2000);

  return await new Promise<number>((resolve) => {
    let stopping = false;
    const stop = async () => {
      if (stopping) process.exit(1);
      stopping = true;
      clearInterval(view);
      clearInterval(mover);
      out("\nstopping…\n");
      await ops?.stop().catch(() => undefined);
      await gw.stop(5000);
      await Promise.allSettled([world.close(), modbus.close(), opcua.shutdown()]);
      if (!opts.dataDir) rmSync(dir, { recursive: true, force: true });
      out("demo stopped\n");
      resolve(0);
    };
    process.once("SIGINT", () => void stop());
    process.once("SIGTERM", () => void stop());
  });
}
