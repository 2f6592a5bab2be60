/**
 * The hold causes the Huawei adapter has asked the core for (`core.hold`), per device, so that each change is
 * sent once: a device is not polled while the platform cannot serve it for a lasting reason.
 */
import type { DeviceKey } from "../platform.js";

/** REMOVE, no `subDevices` entry, beyond `huawei.maxConnections`. */
export type HoldCause = "removed" | "noCredentials" | "overLimit";

export class Holds {
  private readonly byDevice = new Map<DeviceKey, Set<HoldCause>>();

  constructor(private readonly send: (key: DeviceKey, cause: HoldCause, held: boolean) => void) {}

  set(key: DeviceKey, cause: HoldCause, held: boolean): void {
    let causes = this.byDevice.get(key);
    if ((causes?.has(cause) ?? false) === held) return;
    if (held) {
      if (!causes) this.byDevice.set(key, (causes = new Set()));
      causes.add(cause);
    } else {
      causes!.delete(cause);
      if (causes!.size === 0) this.byDevice.delete(key);
    }
    this.send(key, cause, held);
  }

  /** Releases every cause of a device (it left the document). */
  releaseAll(key: DeviceKey): void {
    for (const cause of [...(this.byDevice.get(key) ?? [])]) this.set(key, cause, false);
  }
}
