/** Alink JSON (alink.md sections 0.4, 3.14): members, envelopes and params assembled from encoded values (things/json.ts). */

import { quotedJson } from "../../core/json.js";

/** The values of one poll share their sample time: the text of the last one is kept. */
let lastTime = NaN;
let lastTimeText = "";

/** `"id":{"value":…,"time":…}`, the member of a `properties`/`events` map and of property.post `params`. */
export function timedMember(identifier: string, encodedValue: string, time: number): string {
  if (time !== lastTime) lastTimeText = String(Math.trunc((lastTime = time)));
  return quotedJson(identifier) + ':{"value":' + encodedValue + ',"time":' + lastTimeText + "}";
}

/** The request envelope `{id, version, params, method}` (alink.md section 0.4). */
export function alinkRequest(id: string, method: string, paramsJson: string): string {
  return `{"id":${JSON.stringify(id)},"version":"1.0","params":${paramsJson},"method":${JSON.stringify(method)}}`;
}

export interface PackEntryJson {
  /** `{"productKey":…,"deviceName":…}` */
  identityJson: string;
  properties: readonly string[];
  events: readonly string[];
}

/** `params` of thing.event.property.pack.post (alink.md section 3.14). */
export function packParams(gateway: { properties: readonly string[]; events: readonly string[] }, subDevices: readonly PackEntryJson[]): string {
  const head: string[] = [];
  if (gateway.properties.length) head.push(`"properties":{${gateway.properties.join(",")}}`);
  if (gateway.events.length) head.push(`"events":{${gateway.events.join(",")}}`);
  const subs = subDevices.map(
    (s) => `{"identity":${s.identityJson},"properties":{${s.properties.join(",")}},"events":{${s.events.join(",")}}}`,
  );
  head.push(`"subDevices":[${subs.join(",")}]`);
  return `{${head.join(",")}}`;
}

/** `params` of thing.event.{id}.post: `{"value":{…},"time":…}`. */
export function eventParams(encodedValue: string, time: number): string {
  return `{"value":${encodedValue},"time":${Math.trunc(time)}}`;
}
