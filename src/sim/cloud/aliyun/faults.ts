/**
 * Injected failures: the next matching request is answered with the given code and has no other effect,
 * so that tests can drive every error path of the gateway. Code 0 on a post: the platform took the message
 * (PUBACK) and lost it: no reply, no effect.
 */

export type FaultKind =
  /** CONNECT: the code is the CONNACK return code (1..5). */
  | "connect"
  | "register"
  | "topoAdd"
  | "topoDelete"
  | "topoGet"
  | "login"
  | "logout"
  | "propertyPost"
  | "eventPost"
  | "packPost"
  /** thing.deviceinfo.update / delete of the device. */
  | "tags"
  /** thing.config.get of the device. */
  | "configGet";

export interface FaultOptions {
  /**
   * Only requests concerning this device (`pk/dn`): the sub-device in login, logout, register and topo
   * items; the posting device for property and event posts; the gateway for pack posts, topo get and CONNECT.
   */
  device?: string;
  /** How many matching requests fail; default 1. */
  count?: number;
  /** Reply `message`; default "injected failure". */
  message?: string;
}

interface Fault {
  kind: FaultKind;
  code: number;
  device?: string;
  remaining: number;
  message: string;
}

export class Faults {
  private list: Fault[] = [];

  add(kind: FaultKind, code: number, opts: FaultOptions = {}): void {
    if (kind === "connect" && !(Number.isInteger(code) && code >= 1 && code <= 5)) {
      throw new Error(`a CONNACK return code is 1..5, got ${code}`);
    }
    this.list.push({ kind, code, device: opts.device, remaining: opts.count ?? 1, message: opts.message ?? "injected failure" });
  }

  /** Consumes one matching fault. `devices` are the keys the request concerns (any may match). */
  take(kind: FaultKind, devices: readonly string[]): { code: number; message: string } | undefined {
    const f = this.list.find((x) => x.kind === kind && (x.device === undefined || devices.includes(x.device)));
    if (!f) return undefined;
    f.remaining -= 1;
    if (f.remaining <= 0) this.list.splice(this.list.indexOf(f), 1);
    return { code: f.code, message: f.message };
  }

  clear(): void {
    this.list = [];
  }

  get pending(): number {
    return this.list.reduce((n, f) => n + f.remaining, 0);
  }
}
