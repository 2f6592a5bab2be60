/** Topics of tencent.md 3.1. `pid/dn` is a device pair; every topic is exact (no wildcards are subscribed). */
export const tencentTopics = {
  gatewayOp: (gw: string) => `$gateway/operation/${gw}`,
  gatewayOpResult: (gw: string) => `$gateway/operation/result/${gw}`,
  propertyUp: (x: string) => `$thing/up/property/${x}`,
  propertyDown: (x: string) => `$thing/down/property/${x}`,
  eventUp: (x: string) => `$thing/up/event/${x}`,
  eventDown: (x: string) => `$thing/down/event/${x}`,
  actionUp: (x: string) => `$thing/up/action/${x}`,
  actionDown: (x: string) => `$thing/down/action/${x}`,
  serviceUp: (x: string) => `$thing/up/service/${x}`,
  serviceDown: (x: string) => `$thing/down/service/${x}`,
  otaReport: (gw: string) => `$ota/report/${gw}`,
  otaUpdate: (gw: string) => `$ota/update/${gw}`,
};

/** The six gateway subscriptions (section 2.6). */
export function gatewayFilters(gw: string): string[] {
  const t = tencentTopics;
  return [t.gatewayOpResult(gw), t.propertyDown(gw), t.eventDown(gw), t.actionDown(gw), t.serviceDown(gw), t.otaUpdate(gw)];
}

/** The four subscriptions of an online sub-device (section 3.1). */
export function subDeviceFilters(sub: string): string[] {
  const t = tencentTopics;
  return [t.propertyDown(sub), t.eventDown(sub), t.actionDown(sub), t.serviceDown(sub)];
}

export type DownKind = "property" | "event" | "action" | "service" | "gatewayResult" | "ota";

/** Splits a downlink topic into its kind and the device pair `pid/dn`; undefined for anything else. */
export function parseDownTopic(topic: string): { kind: DownKind; pair: string } | undefined {
  let m = /^\$thing\/down\/(property|event|action|service)\/([^/]+\/[^/]+)$/.exec(topic);
  if (m) return { kind: m[1] as DownKind, pair: m[2]! };
  m = /^\$gateway\/operation\/result\/([^/]+\/[^/]+)$/.exec(topic);
  if (m) return { kind: "gatewayResult", pair: m[1]! };
  m = /^\$ota\/update\/([^/]+\/[^/]+)$/.exec(topic);
  if (m) return { kind: "ota", pair: m[1]! };
  return undefined;
}
