/**
 * FieldManager holds: a held device is not polled, stays unpolled across config applies and channel restarts, and
 * is polled again only once every cause has released it.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import pino from "pino";
import { FieldManager } from "../../src/field/manager.js";
import type { ChannelSpec, DeviceSpec, GatewayConfig } from "../../src/config/gateway/model.js";
import type { DriverContext, FieldChannel, FieldSink } from "../../src/field/driver.js";

/** What the channels were asked to poll, per channel start (a restart starts a new entry). */
class Channels {
  readonly polled = new Map<string, Set<string>>();
  starts = 0;
  factory = (spec: ChannelSpec): FieldChannel => {
    const polled = new Set<string>();
    this.polled.set(spec.serverId, polled);
    this.starts++;
    return {
      serverId: spec.serverId,
      start: async () => undefined,
      stop: async () => { polled.clear(); },
      addDevice: (d: DeviceSpec) => { polled.add(d.key); },
      removeDevice: async (key: string) => { polled.delete(key); },
      write: async () => undefined,
      call: async () => ({}),
      stats: () => ({ serverId: spec.serverId, protocol: spec.protocol, up: true, requests: 0, errors: 0, timeouts: 0, lastPollMs: 0, busUtilisation: 0 }),
    };
  };
  of(id: string): string[] {
    return [...(this.polled.get(id) ?? [])].sort();
  }
}

const sink: FieldSink = { samples: () => undefined, deviceHealth: () => undefined, channelHealth: () => undefined, event: () => undefined };
const ctx = { logger: pino({ level: "silent" }), dataDir: "/nonexistent", options: {} } as unknown as DriverContext;

function config(devices: string[]): GatewayConfig {
  return {
    channels: [{ serverId: "C1", protocol: "tcp", name: "c1" } as unknown as ChannelSpec],
    devices: devices.map((key) => ({ key, serverId: "C1" }) as unknown as DeviceSpec),
  } as unknown as GatewayConfig;
}

test("a held device is not polled until every cause releases it, across applies and channel restarts", async () => {
  const ch = new Channels();
  const field = new FieldManager(sink, ctx, ch.factory);
  await field.apply(config(["a", "b"]), new Set(), new Set());
  assert.deepEqual(ch.of("C1"), ["a", "b"]);

  assert.equal(await field.hold("a", "cloud", true), true);
  assert.deepEqual(ch.of("C1"), ["b"]);
  assert.equal(await field.hold("a", "noCredentials", true), false, "a second cause changes nothing");

  // The same document again, then a restart of the channel: the hold survives both.
  await field.apply(config(["a", "b"]), new Set(), new Set());
  assert.deepEqual(ch.of("C1"), ["b"]);
  await field.apply(config(["a", "b"]), new Set(["C1"]), new Set());
  assert.equal(ch.starts, 2);
  assert.deepEqual(ch.of("C1"), ["b"]);
  // A device changed in the document is re-added by the apply, unless held.
  await field.apply(config(["a", "b"]), new Set(), new Set(["a", "b"]));
  assert.deepEqual(ch.of("C1"), ["b"]);

  assert.equal(await field.hold("a", "cloud", false), false, "one cause still holds it");
  assert.deepEqual(ch.of("C1"), ["b"]);
  assert.deepEqual(field.held().get("a"), ["noCredentials"]);
  assert.equal(await field.hold("a", "noCredentials", false), true);
  assert.deepEqual(ch.of("C1"), ["a", "b"]);
  assert.equal(field.held().size, 0);
  assert.equal(await field.hold("a", "noCredentials", false), false, "releasing twice changes nothing");
});

test("a device held before its document arrives is not polled when the document lists it", async () => {
  const ch = new Channels();
  const field = new FieldManager(sink, ctx, ch.factory);
  await field.hold("c", "removed", true);
  await field.apply(config(["a", "c"]), new Set(), new Set());
  assert.deepEqual(ch.of("C1"), ["a"]);
  await field.hold("c", "removed", false);
  assert.deepEqual(ch.of("C1"), ["a", "c"]);
});
