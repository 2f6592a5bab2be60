/**
 * `control` and `action` (tencent.md 3.4, 3.6, 3.8, 6.5, 6.6): validated first (nothing malformed reaches the
 * field), then handed to the core, whose Outcome becomes the reply code. Duplicates (same token and payload on
 * the same device within 60 s) are answered again, not executed again.
 */
import type { Logger } from "pino";
import type { Core, DeviceKey } from "../platform.js";
import type { MqttLink } from "../mqtt/link.js";
import { type Obj, outcomeCode, parseCommand } from "./downlink.js";
import { tencentTopics } from "./topics.js";

const DUP_WINDOW_MS = 60_000;
/** Commands waiting for one field channel before new ones are refused with 429 (3.8). */
export const MAX_WAITING_PER_CHANNEL = 32;

export interface CommandTarget {
  key: DeviceKey;
  /** Services of its TSL other than set/get (undefined: no TSL). */
  services: Set<string> | undefined;
  opcua: boolean;
  /** The field channel (server) its writes go through. */
  channel: string;
}

export class Commands {
  private readonly recent = new Map<string, { payload: string; reply: Promise<string>; at: number }>();
  private lastDropLog = 0;
  private readonly waiting = new Map<string, number>();
  readonly counters = { commands: 0, refused: 0, dropped: 0, duplicates: 0 };

  constructor(
    private readonly link: MqttLink,
    private readonly core: Core,
    private readonly log: Logger,
  ) {}

  /** `target` undefined: a device this gateway does not serve. */
  handle(pair: string, kind: "control" | "action", msg: Obj, raw: Buffer, target: CommandTarget | undefined): void {
    const parsed = parseCommand(msg, kind);
    if (!parsed.ok && parsed.token === undefined) {
      this.counters.dropped++;
      if (Date.now() - this.lastDropLog > 10_000) {
        this.lastDropLog = Date.now();
        this.log.warn({ device: pair, kind, reason: parsed.reason }, "malformed command dropped (no way to answer it)");
      }
      return;
    }
    const token = parsed.token;
    const topic = kind === "control" ? tencentTopics.propertyUp(pair) : tencentTopics.actionUp(pair);
    const dupKey = `${pair}|${kind}|${token}`;
    const now = Date.now();
    for (const [k, v] of this.recent) if (now - v.at > DUP_WINDOW_MS) this.recent.delete(k);
    const text = raw.toString("utf8");
    const seen = this.recent.get(dupKey);
    if (seen && seen.payload === text) {
      this.counters.duplicates++;
      void seen.reply.then((r) => this.publish(topic, r));
      return;
    }
    const reply = this.execute(pair, kind, parsed, target);
    this.recent.set(dupKey, { payload: text, reply, at: now });
    void reply.then((r) => this.publish(topic, r));
  }

  private publish(topic: string, payload: string): void {
    this.link.publish(topic, payload).catch((err: Error) => this.log.warn({ topic, err: err.message }, "command reply not sent"));
  }

  private async execute(pair: string, kind: "control" | "action", p: ReturnType<typeof parseCommand>, target: CommandTarget | undefined): Promise<string> {
    const token = p.token!;
    const method = kind === "control" ? "control_reply" : "action_reply";
    const answer = (code: number, status: string, response?: Obj) => {
      if (code !== 0) this.counters.refused++;
      return JSON.stringify({ method, clientToken: token, code, status, ...(kind === "action" ? { response: response ?? {} } : {}) });
    };
    this.counters.commands++;
    if (!p.ok) return "code" in p ? answer(p.code, p.status) : answer(406, p.reason);
    if (!target) return answer(403, `${pair} is not served by this gateway`);
    const n = this.waiting.get(target.channel) ?? 0;
    if (n >= MAX_WAITING_PER_CHANNEL) return answer(429, `more than ${MAX_WAITING_PER_CHANNEL} commands waiting for the channel`);
    this.waiting.set(target.channel, n + 1);
    try {
      return await this.run(kind, p, target, answer);
    } finally {
      const left = (this.waiting.get(target.channel) ?? 1) - 1;
      if (left > 0) this.waiting.set(target.channel, left);
      else this.waiting.delete(target.channel);
    }
  }

  private async run(kind: "control" | "action", p: ReturnType<typeof parseCommand> & { ok: true }, target: CommandTarget, answer: (code: number, status: string, response?: Obj) => string): Promise<string> {
    if (kind === "control") {
      const out = await this.core.request({ kind: "propertySet", device: target.key, values: p.params });
      return out.ok ? answer(0, "success") : answer(outcomeCode(out, target.opcua), out.message);
    }
    const actionId = p.actionId!;
    if (actionId === "set" || actionId === "get" || (target.services && !target.services.has(actionId))) return answer(403, `unknown action ${actionId}`);
    const out = await this.core.request({ kind: "service", device: target.key, service: actionId, inputs: p.params });
    return out.ok ? answer(0, "success", (out.data ?? {}) as Obj) : answer(outcomeCode(out, target.opcua), out.message);
  }
}
