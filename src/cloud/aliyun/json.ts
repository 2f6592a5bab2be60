/** Alink JSON (alink.md sections 0.4, 3.14): members, envelopes and params assembled from encoded values (things/json.ts). */

import { Buffer } from "node:buffer";
import { quotedJson } from "../../core/json.js";

/** The values of one poll share their sample time: the text of the last one is kept. */
let lastTime = NaN;
let lastTimeText = "";

/**
 * One timed value in its parts, written as the member `"id":{"value":…,"time":…}` of a `properties`/`events` map
 * straight into the message: no string per member.
 */
export interface TimedValue {
  /** The identifier as a JSON string. */
  quoted: string;
  valueJson: string;
  /** The sample time in whole ms, as text. */
  timeText: string;
}

export function timedValue(identifier: string, valueJson: string, time: number): TimedValue {
  return { quoted: quotedJson(identifier), valueJson, timeText: timeText(time) };
}

/** A sample time in whole ms as text (`TimedValue.timeText`). */
export function timeText(time: number): string {
  if (time !== lastTime) lastTimeText = String(Math.trunc((lastTime = time)));
  return lastTimeText;
}

/** UTF-8 bytes of the member a timed value becomes. */
export function memberBytes(v: TimedValue): number {
  // :{"value":  ,"time":  }
  return Buffer.byteLength(v.quoted) + Buffer.byteLength(v.valueJson) + v.timeText.length + 19;
}

function pushMembers(parts: string[], values: readonly TimedValue[]): void {
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    parts.push(i === 0 ? "" : ",", v.quoted, ':{"value":', v.valueJson, ',"time":', v.timeText, "}");
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
