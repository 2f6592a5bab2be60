/**
 * The X-platform envelope (lierda.md §4): `{"MessageId", "HeaderCtrl", "Payload", "Version"}`. Sent ids are
 * positive integers; received ids are an integer or a non-empty string of at most 64 characters and are echoed
 * with their JSON type. Replies carry `{"Code","Msg","Data"}` with "200" or "4001".
 */
export const VERSION = "2.0";
/** Downlinks above this are dropped unparsed (§12). */
export const MAX_DOWNLINK_BYTES = 256 * 1024;
/** The gateway's own messages stay below this (§12). */
export const MAX_UPLINK_BYTES = 64 * 1024;

export type MessageId = number | string;

export interface Envelope {
  messageId: MessageId;
  headerCtrl: number;
  version: unknown;
  payload: unknown;
}

export type EnvelopeResult = { ok: true; env: Envelope } | { ok: false; reason: string };

export function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

export function validMessageId(v: unknown): v is MessageId {
  if (typeof v === "number") return Number.isSafeInteger(v);
  return typeof v === "string" && v.length > 0 && v.length <= 64;
}

/** Parses a received message; the reasons are short and carry no payload content. */
export function parseEnvelope(bytes: Buffer | string): EnvelopeResult {
  const size = typeof bytes === "string" ? Buffer.byteLength(bytes) : bytes.length;
  if (size > MAX_DOWNLINK_BYTES) return { ok: false, reason: `message of ${size} bytes exceeds ${MAX_DOWNLINK_BYTES}` };
  let json: unknown;
  try {
    json = JSON.parse(typeof bytes === "string" ? bytes : bytes.toString("utf8"));
  } catch {
    return { ok: false, reason: "not JSON" };
  }
  if (!isObject(json)) return { ok: false, reason: "not a JSON object" };
  if (!validMessageId(json["MessageId"])) return { ok: false, reason: "MessageId missing or invalid" };
  const hc = json["HeaderCtrl"];
  if (typeof hc !== "number" || !Number.isInteger(hc)) return { ok: false, reason: "HeaderCtrl missing or not an integer" };
  if (!("Payload" in json)) return { ok: false, reason: "Payload missing" };
  return { ok: true, env: { messageId: json["MessageId"], headerCtrl: hc, version: json["Version"], payload: json["Payload"] } };
}

/** Same id: a number and a string with the same digits match (§3.3). */
export function sameId(a: MessageId, b: MessageId): boolean {
  return String(a) === String(b);
}

/** An envelope with a pre-encoded Payload. */
export function envelopeJson(messageId: MessageId, headerCtrl: number, payloadJson: string): string {
  return `{"MessageId":${JSON.stringify(messageId)},"HeaderCtrl":${headerCtrl},"Payload":${payloadJson},"Version":"${VERSION}"}`;
}

export const CODE_OK = "200";
export const CODE_FAIL = "4001";

/** `{"Code":"200","Msg":"SUCCESS","Data":{…}}` with a pre-encoded Data. */
export function successPayload(dataJson = "{}"): string {
  return `{"Code":"${CODE_OK}","Msg":"SUCCESS","Data":${dataJson}}`;
}

/** `{"Code":"4001","Msg":"Failed: <reason>","Data":{…}}`; the reason is cut to 200 characters. */
export function failurePayload(reason: string, dataJson = "{}"): string {
  const text = reason.length > 200 ? `${reason.slice(0, 197)}...` : reason;
  return `{"Code":"${CODE_FAIL}","Msg":${JSON.stringify(`Failed: ${text}`)},"Data":${dataJson}}`;
}

/**
 * Per-device message ids (§4): positive integers below 2^31, increasing, starting at a random value after every
 * start and never below the persisted high-water mark, so ids stay unique across restarts. The mark is reserved
 * in blocks (one database write per `block` ids).
 */
export class MessageIdCounter {
  private next: number;
  private mark: number;

  constructor(
    persistedMark: number | undefined,
    private readonly persist: (mark: number) => void,
    private readonly block = 1000,
    random: () => number = Math.random,
  ) {
    const base = 1 + Math.floor(random() * 1_000_000_000);
    const floor = typeof persistedMark === "number" && Number.isSafeInteger(persistedMark) ? persistedMark + 1 : 0;
    this.next = Math.max(base, floor);
    if (this.next > ID_MAX - block) this.next = 1 + Math.floor(random() * 1000);
    this.mark = this.next - 1;
  }

  take(): number {
    const id = this.next;
    if (id > this.mark) {
      this.mark = Math.min(ID_MAX, id + this.block);
      this.persist(this.mark);
    }
    this.next = id >= ID_MAX ? 1 : id + 1;
    if (this.next === 1) this.mark = 0;
    return id;
  }
}

const ID_MAX = 2 ** 31 - 1;
