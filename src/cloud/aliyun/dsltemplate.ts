/**
 * `thing.dsltemplate.get` (alink.md section 3.18): the thing model of a product, asked under the identity of one of
 * its logged-in sub-devices (the request is per device). The answer is returned unchecked: the core validates it
 * like a pushed TSL (core/cloud-tsl.ts).
 */
import type { AlinkConnection, AlinkReply } from "./connection.js";
import type { TslFetch } from "../platform.js";
import { replyTopic, type Identity } from "./topics.js";
import { isObject } from "../../core/json.js";

export const dslTemplateTopic = (d: Identity) => `/sys/${d.productKey}/${d.deviceName}/thing/dsltemplate/get`;

/** 6321: the device is not in the product (another device of the product may answer). */
const NOT_IN_PRODUCT = 6321;

export async function fetchDslTemplate(link: AlinkConnection, device: Identity): Promise<TslFetch> {
  const topic = dslTemplateTopic(device);
  let reply: AlinkReply;
  try {
    // Subscribed on demand: only a product without a tslList entry needs it, and only once per device session.
    const refused = await link.subscribe([replyTopic(topic)]);
    if (refused.length) return { ok: false, reason: `subscription to ${replyTopic(topic)} refused`, otherDevice: true };
    reply = await link.request(topic, { version: "1.0", params: {}, method: "thing.dsltemplate.get" });
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }
  if (reply.code === 200) {
    return isObject(reply.data) ? { ok: true, tsl: reply.data } : { ok: false, reason: "the reply carries no TSL object in data" };
  }
  const reason = `refused ${reply.code}${reply.message ? `: ${reply.message}` : ""}`;
  return { ok: false, reason, ...(reply.code === NOT_IN_PRODUCT ? { otherDevice: true } : {}) };
}
