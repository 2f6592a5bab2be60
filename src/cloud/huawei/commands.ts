/**
 * Commands arriving on a device connection (huawei.md sections 3.3 to 3.5, 5.6 to 5.8, 6): validated first (a
 * command that is not valid reaches neither the core nor a field device and is answered 460 where it carries a
 * mid), executed in arrival order per connection (more than 32 waiting → 429), duplicates (same mid, same bytes
 * within 60 s) answered again from the earlier response without running again.
 */
import { createHash } from "node:crypto";
import type { Logger } from "pino";
import type { CompiledTsl } from "../../things/tsl.js";
import type { ConfigOutcome, Core, DeviceKey, Outcome, PlatformDevice, RouteId } from "../platform.js";
import { CODE, deviceRsp, fail, failureCode, parseCloudReq, parseConfigParas, parseRemoveParas, type RemoveTarget, type RspBody } from "./downlink.js";

export const MAX_WAITING = 32;
const DUPLICATE_MS = 60_000;
const DROP_LOG_MS = 60_000;

export interface CommandContext {
  core: Core;
  logger: Logger;
  serviceId: string;
  allowHttp: boolean;
  gatewayKey: DeviceKey;
  device(key: DeviceKey): PlatformDevice | undefined;
  compiled(key: DeviceKey): CompiledTsl | undefined;
  /** The document device a REMOVE names, undefined when none (or the gateway). */
  removeTarget(t: RemoveTarget): DeviceKey | undefined;
  /** Stops bridging the device (REMOVE). */
  remove(key: DeviceKey): Promise<void>;
  /** A document pushed through CONFIG_PUSH was applied. */
  documentApplied(): void;
  /** Publishes a response on the route's data topic; false when it could not go out. */
  respond(route: RouteId, payload: string): Promise<boolean>;
}

interface Seen {
  hash: string;
  at: number;
  response: string | undefined;
  /** Duplicates that arrived while the first was still running. */
  repeats: number;
}

interface RouteQueue {
  tail: Promise<void>;
  waiting: number;
}

export class CommandDesk {
  readonly counters = { commands: 0, commandErrors: 0, dropped: 0, duplicates: 0, busy: 0 };
  private readonly seen = new Map<RouteId, Map<number, Seen>>();
  private readonly queues = new Map<RouteId, RouteQueue>();
  private lastDropLog = 0;
  private suppressedDrops = 0;

  constructor(private readonly x: CommandContext) {}

  /** A message on the command topic of `route`. Never throws. */
  handle(route: RouteId, payload: Buffer): void {
    const parsed = parseCloudReq(payload);
    if (parsed.kind === "drop") {
      this.counters.dropped++;
      this.logDrop(route, parsed.reason);
      return;
    }
    const mid = parsed.mid;
    const hash = createHash("sha256").update(payload).digest("hex");
    const perRoute = this.seen.get(route) ?? new Map<number, Seen>();
    this.seen.set(route, perRoute);
    const now = Date.now();
    for (const [m, s] of perRoute) if (now - s.at > DUPLICATE_MS) perRoute.delete(m);
    const earlier = perRoute.get(mid);
    if (earlier && earlier.hash === hash) {
      this.counters.duplicates++;
      if (earlier.response !== undefined) void this.x.respond(route, earlier.response);
      else earlier.repeats++;
      return;
    }
    const entry: Seen = { hash, at: now, response: undefined, repeats: 0 };
    perRoute.set(mid, entry);
    const finish = (body: RspBody) => {
      const text = deviceRsp(mid, body);
      entry.response = text;
      if (body.code !== CODE.ok) this.counters.commandErrors++;
      const times = 1 + entry.repeats;
      entry.repeats = 0;
      for (let i = 0; i < times; i++) void this.x.respond(route, text);
    };
    this.counters.commands++;
    if (parsed.kind === "invalid") {
      this.x.logger.warn({ route, mid, reason: parsed.reason }, "invalid command refused");
      finish(fail(CODE.invalid, parsed.reason));
      return;
    }
    const q = this.queues.get(route) ?? { tail: Promise.resolve(), waiting: 0 };
    this.queues.set(route, q);
    // One command runs, up to MAX_WAITING wait behind it.
    if (q.waiting > MAX_WAITING) {
      this.counters.busy++;
      finish(fail(CODE.busy, `more than ${MAX_WAITING} commands waiting`));
      return;
    }
    q.waiting++;
    q.tail = q.tail.then(async () => {
      let body: RspBody;
      try {
        body = await this.execute(route, parsed.serviceId, parsed.cmd, parsed.paras);
      } catch (err) {
        this.x.logger.error({ route, mid, err: (err as Error).message }, "command failed unexpectedly");
        body = fail(CODE.internal, "internal error");
      }
      q.waiting--;
      finish(body);
    });
  }

  private logDrop(route: RouteId, reason: string): void {
    const now = Date.now();
    if (now - this.lastDropLog < DROP_LOG_MS) {
      this.suppressedDrops++;
      return;
    }
    this.x.logger.warn({ route, reason, ...(this.suppressedDrops ? { suppressed: this.suppressedDrops } : {}) }, "unusable command dropped without a response");
    this.lastDropLog = now;
    this.suppressedDrops = 0;
  }

  private async execute(route: RouteId, serviceId: string, cmd: string, paras: Record<string, unknown>): Promise<RspBody> {
    const isGateway = route === this.x.gatewayKey;
    if (isGateway && serviceId === "Gateway") {
      if (cmd === "CONFIG_PUSH") return this.configPush(paras);
      if (cmd === "REMOVE") return this.removeCommand(paras);
      return fail(CODE.invalid, `unknown command ${cmd} of service Gateway`);
    }
    if (serviceId !== this.x.serviceId) return fail(CODE.invalid, `unknown service ${serviceId}`);
    const device = this.x.device(route);
    const tsl = this.x.compiled(route);
    if (!tsl) return fail(CODE.invalid, "the device has no thing model");
    const protocol = device?.spec.opcua ? "opcua" : device?.spec.modbus ? "modbus" : undefined;
    if (cmd === "set") {
      if (Object.keys(paras).length === 0) return fail(CODE.invalid, "paras is empty");
      const r = tsl.checkPropertySet(paras);
      if (!r.ok) return fail(CODE.invalid, r.problems[0]!.reason);
      return this.outcome(await this.x.core.request({ kind: "propertySet", device: route, values: r.values }), protocol);
    }
    if (cmd === "get") {
      const keys = Object.keys(paras);
      let ids: string[] = [];
      if (keys.length > 0) {
        if (keys.length !== 1 || keys[0] !== "identifiers" || !Array.isArray(paras.identifiers)) return fail(CODE.invalid, 'paras must be {} or {"identifiers": [...]}');
        for (const id of paras.identifiers) {
          if (typeof id !== "string") return fail(CODE.invalid, "identifiers must be strings");
          if (!tsl.property(id)) return fail(CODE.invalid, `unknown property ${JSON.stringify(id)}`);
        }
        ids = paras.identifiers as string[];
      }
      return this.outcome(await this.x.core.request({ kind: "propertyGet", device: route, identifiers: ids }), protocol);
    }
    if (!tsl.service(cmd)) return fail(CODE.invalid, `unknown command ${cmd}`);
    const inputs = tsl.checkServiceInputs(cmd, paras);
    if (!inputs.ok) return fail(CODE.invalid, inputs.reason);
    return this.outcome(await this.x.core.request({ kind: "service", device: route, service: cmd, inputs: inputs.value }), protocol);
  }

  private outcome(o: Outcome, protocol: "modbus" | "opcua" | undefined): RspBody {
    if (o.ok) return o.data && Object.keys(o.data).length > 0 ? { code: CODE.ok, data: o.data } : { code: CODE.ok };
    return fail(failureCode(o.kind, protocol), o.message);
  }

  private async configPush(paras: Record<string, unknown>): Promise<RspBody> {
    const p = parseConfigParas(paras, this.x.allowHttp);
    if (typeof p === "string") return fail(CODE.invalid, p);
    const out: ConfigOutcome = await this.x.core.offerConfig({ url: p.url, digest: p.digest, digestMethod: p.digestMethod, ...(p.version !== undefined ? { version: p.version } : {}) });
    if (out.ok) {
      this.x.documentApplied();
      return { code: CODE.ok, digest: p.digest, ...(p.version !== undefined ? { version: p.version } : {}) };
    }
    switch (out.stage) {
      case "request":
      case "digest":
        return fail(CODE.invalid, out.message);
      case "download":
        return fail(CODE.downloadFailed, out.message);
      case "validation": {
        const n = Math.max(out.problems.length, 1);
        return fail(CODE.documentInvalid, `${n}: ${out.problems[0] ?? out.message}`);
      }
      default:
        return fail(CODE.internal, out.message);
    }
  }

  private async removeCommand(paras: Record<string, unknown>): Promise<RspBody> {
    const t = parseRemoveParas(paras);
    if (typeof t === "string") return fail(CODE.invalid, t);
    const key = this.x.removeTarget(t);
    if (!key) return fail(CODE.invalid, "no such device in the applied document");
    await this.x.remove(key);
    return { code: CODE.ok };
  }
}
