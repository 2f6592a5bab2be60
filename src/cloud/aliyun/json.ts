/** Alink JSON (alink.md sections 0.4, 3.14): members, envelopes and params assembled from encoded values (things/json.ts). */

import { Buffer } from "node:buffer";
import { TextCache } from "../../core/json.js";

/**
 * One timed value in its parts, written as the member `"id":{"value":…,"time":…}` of a `properties`/`events` map
 * straight into the message: no string per member.
 */
export interface TimedValue {
  /** `"id":{"value":`, made once per identifier. */
  head: string;
  valueJson: string;
  /** `,"time":…}`, the sample time in whole ms (the values of one poll share it). */
  tail: string;
}

const heads = new TextCache<string>((id) => `${JSON.stringify(id)}:{"value":`);
let lastTime = NaN;
let lastTail = "";

export function timedValue(identifier: string, valueJson: string, time: number): TimedValue {
  return { head: memberHead(identifier), valueJson, tail: timeTail(time) };
}

export function memberHead(identifier: string): string {
  return heads.get(identifier);
}

export function timeTail(time: number): string {
  if (time !== lastTime) lastTail = `,"time":${Math.trunc((lastTime = time))}}`;
  return lastTail;
}

/** UTF-8 bytes of the member a timed value becomes. */
export function memberBytes(v: TimedValue): number {
  return Buffer.byteLength(v.head) + Buffer.byteLength(v.valueJson) + v.tail.length;
}

function pushMembers(parts: string[], values: readonly TimedValue[]): void {
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (i > 0) parts.push(",");
    parts.push(v.head, v.valueJson, v.tail);
  }
}

/** The request envelope `{id, version, params, method}` (alink.md section 0.4). */
export function alinkRequest(id: string, method: string, paramsJson: string): string {
  return `{"id":${JSON.stringify(id)},"version":"1.0","params":${paramsJson},"method":${JSON.stringify(method)}}`;
}

export interface PackEntryJson {
  /** `{"productKey":…,"deviceName":…}` */
  identityJson: string;
  properties: readonly TimedValue[];
  events: readonly TimedValue[];
}

/**
 * The whole thing.event.property.pack.post request (alink.md sections 0.4 and 3.14), written part by part into one
 * string: `{"id":…,"version":"1.0","params":{"properties":{…},"events":{…},"subDevices":[…]},"method":…}`, the
 * gateway's own maps only when it has values.
 */
export function packPostRequest(id: string, gateway: { properties: readonly TimedValue[]; events: readonly TimedValue[] }, subDevices: readonly PackEntryJson[]): string {
  const parts: string[] = ['{"id":', JSON.stringify(id), ',"version":"1.0","params":{'];
  if (gateway.properties.length) {
    parts.push('"properties":{');
    pushMembers(parts, gateway.properties);
    parts.push("},");
  }
  if (gateway.events.length) {
    parts.push('"events":{');
    pushMembers(parts, gateway.events);
    parts.push("},");
  }
  parts.push('"subDevices":[');
  for (let i = 0; i < subDevices.length; i++) {
    const s = subDevices[i]!;
    parts.push(i === 0 ? '{"identity":' : ',{"identity":', s.identityJson, ',"properties":{');
    pushMembers(parts, s.properties);
    parts.push('},"events":{');
    pushMembers(parts, s.events);
    parts.push("}}");
  }
  parts.push(']},"method":"thing.event.property.pack.post"}');
  return parts.join("");
}

/** `params` of thing.event.{id}.post: `{"value":{…},"time":…}`. */
export function eventParams(encodedValue: string, time: number): string {
  return `{"value":${encodedValue},"time":${Math.trunc(time)}}`;
}
