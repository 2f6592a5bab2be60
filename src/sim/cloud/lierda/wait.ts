/** A bounded wait on an emitter's `change` events (polled too, for conditions that change without one). */
import type { EventEmitter } from "node:events";

export function waitFor<T>(emitter: EventEmitter<{ change: [] }>, predicate: () => T | undefined | null | false, timeoutMs: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const check = () => {
      let v: T | undefined | null | false;
      try {
        v = predicate();
      } catch (err) {
        done();
        return reject(err);
      }
      if (v === undefined || v === null || v === false) return;
      done();
      resolve(v);
    };
    const poll = setInterval(check, 50);
    const timer = setTimeout(() => {
      done();
      reject(new Error(`waitFor ${what}: not met within ${timeoutMs} ms`));
    }, timeoutMs);
    const done = () => {
      clearInterval(poll);
      clearTimeout(timer);
      emitter.off("change", check);
    };
    emitter.on("change", check);
    check();
  });
}
