/** Downlink requests waiting for the device's reply, matched by (reply topic, id). */
import type { MessageId } from "./context.js";

export interface DownlinkReply {
  /** The topic the reply arrived on. */
  topic: string;
  /** The reply's `id` exactly as sent by the device (its JSON type is kept, so tests can check the echo). */
  id: unknown;
  /** The reply's `code`; NaN when it is not a JSON number. */
  code: number;
  data: unknown;
  message?: string;
  raw: Record<string, unknown>;
}

interface Waiter {
  resolve(r: DownlinkReply): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

const keyOf = (topic: string, id: unknown) => `${topic}\u0000${String(id)}`;

export class PendingReplies {
  private readonly waiters = new Map<string, Waiter>();

  /** Resolves with the reply on `replyTopic` carrying `id` (compared as text), or rejects after `timeoutMs`. */
  wait(replyTopic: string, id: MessageId, timeoutMs: number): Promise<DownlinkReply> {
    const key = keyOf(replyTopic, id);
    return new Promise<DownlinkReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(key);
        reject(new Error(`no reply on ${replyTopic} for id ${String(id)} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.set(key, { resolve, reject, timer });
    });
  }

  /** Settles the waiter for this reply; false when nobody waited for it. */
  settle(topic: string, msg: Record<string, unknown>): boolean {
    const key = keyOf(topic, msg["id"]);
    const w = this.waiters.get(key);
    if (!w) return false;
    this.waiters.delete(key);
    clearTimeout(w.timer);
    const code = msg["code"];
    w.resolve({
      topic,
      id: msg["id"],
      code: typeof code === "number" ? code : Number.NaN,
      data: msg["data"],
      ...(typeof msg["message"] === "string" ? { message: msg["message"] } : {}),
      raw: msg,
    });
    return true;
  }

  rejectAll(reason: string): void {
    for (const [key, w] of this.waiters) {
      clearTimeout(w.timer);
      w.reject(new Error(reason));
      this.waiters.delete(key);
    }
  }
}
