/**
 * Malformed platform downlinks (lierda.md §4, §7.4–§7.8, §8.1) for a field device and the gateway device: each with
 * the reply that is due (topic suffix and a check of its Payload), or none (ignored). MessageIds are unique.
 */
export interface MalformedCase {
  name: string;
  device: string;
  suffix: string;
  body: string | Buffer;
  /** The MessageId as sent (undefined: none that a reply could echo). */
  id?: number | string;
  reply?: { suffix: string; check: (payload: unknown) => boolean };
}

export function malformedDownlinks(o: { meter: string; gateway: string; runningSha: string }): MalformedCase[] {
  let next = 770_000;
  const out: MalformedCase[] = [];
  const env = (id: unknown, hc: number, payload: unknown, version = "2.0") => JSON.stringify({ MessageId: id, HeaderCtrl: hc, Payload: payload, Version: version });
  const failed = (p: unknown) => {
    const a = p as { Code?: unknown; Msg?: unknown; Data?: unknown };
    return a.Code === "4001" && typeof a.Msg === "string" && a.Msg.startsWith("Failed: ") && JSON.stringify(a.Data) === "{}";
  };
  const emptySettings = (p: unknown) => JSON.stringify(p) === '{"Settings":{}}';
  const configRefused = (p: unknown) => {
    const s = (p as { Settings?: { GatewayConfigState?: string; GatewayConfigSha256?: string } }).Settings;
    return !!s && s.GatewayConfigState !== "applied" && s.GatewayConfigSha256 === o.runningSha;
  };

  // Property sets whose envelope is valid: "4001" on set_ack, nothing written.
  const sets: Array<[string, unknown, string?]> = [
    ["set, Version 1.0", { params: [{ identify: "sp", value: 1 }] }, "1.0"],
    ["set, Payload without params", {}],
    ["set, params a string", { params: "x" }],
    ["set, params empty", { params: [] }],
    ["set, identify a number", { params: [{ identify: 5, value: 1 }] }],
    ["set, no identify", { params: [{ value: 1 }] }],
    ["set, no value", { params: [{ identify: "sp" }] }],
    ["set, identify repeated", { params: [{ identify: "sp", value: 1 }, { identify: "sp", value: 2 }] }],
    ["set, int from text", { params: [{ identify: "sp", value: "abc" }] }],
    ["set, int from a fraction", { params: [{ identify: "sp", value: 1.5 }] }],
    ["set, value null", { params: [{ identify: "sp", value: null }] }],
    ["set, bool from text", { params: [{ identify: "on", value: "maybe" }] }],
    ["set, item null", { params: [null] }],
    ["set, value an object", { params: [{ identify: "sp", value: {} }] }],
    ["set, below min as a string", { params: [{ identify: "sp", value: "-1" }] }],
    ["set, read-only and valid", { params: [{ identify: "sp", value: 3 }, { identify: "status", value: 0 }] }],
  ];
  for (const [name, payload, version] of sets) {
    const id = ++next;
    out.push({ name, device: o.meter, suffix: "model/property/set", id, body: env(id, 20, payload, version), reply: { suffix: "model/property/set_ack", check: failed } });
  }

  const replied = (name: string, device: string, suffix: string, hc: number, payload: unknown, replySuffix: string, check: (p: unknown) => boolean) => {
    const id = ++next;
    out.push({ name, device, suffix, id, body: env(id, hc, payload), reply: { suffix: replySuffix, check } });
  };
  replied("service unknown", o.meter, "model/service/Nope", 21, { serviceIdentify: "Nope", params: {} }, "model/service/Nope/ack", failed);
  replied("service, serviceIdentify differs", o.meter, "model/service/Reset", 21, { serviceIdentify: "Other", params: {} }, "model/service/Reset/ack", failed);
  replied("service, params a string", o.meter, "model/service/Reset", 21, { serviceIdentify: "Reset", params: "x" }, "model/service/Reset/ack", failed);
  replied("passthrough downlink", o.meter, "downlink", 7, { data: "00ff" }, "downlink_ack", failed);
  replied("down_config to a field device", o.meter, "down_config", 14, { Settings: { GatewayConfigUrl: "https://127.0.0.1:1/x.json", GatewayConfigSha256: "0".repeat(64) } }, "config_report", emptySettings);
  replied("ask_config to a field device", o.meter, "ask_config", 14, {}, "config_report", emptySettings);
  const hex = "a".repeat(64);
  replied("down_config, Settings not JSON", o.gateway, "down_config", 14, { Settings: "{not json" }, "config_report", configRefused);
  replied("down_config, Settings without keys", o.gateway, "down_config", 14, { Settings: {} }, "config_report", configRefused);
  replied("down_config, http URL", o.gateway, "down_config", 14, { Settings: { GatewayConfigUrl: "http://127.0.0.1:1/x.json", GatewayConfigSha256: hex } }, "config_report", configRefused);
  replied("down_config, digest not hex", o.gateway, "down_config", 14, { Settings: { GatewayConfigUrl: "https://127.0.0.1:1/x.json", GatewayConfigSha256: "xyz" } }, "config_report", configRefused);
  replied("down_config, Settings a number", o.gateway, "down_config", 14, { Settings: 42 }, "config_report", configRefused);

  // Ignored: no reply is due (§7.7), nothing changes.
  const ignored = (name: string, suffix: string, body: (id: number) => string | Buffer, device = o.meter, idOf = (id: number): number | string | undefined => id) => {
    const n = ++next;
    const id = idOf(n);
    out.push({ name, device, suffix, ...(id !== undefined ? { id } : {}), body: body(n) });
  };
  const none = () => undefined;
  const setPayload = { params: [{ identify: "sp", value: 9 }] };
  const long = (id: number) => String(id).padEnd(65, "0");
  ignored("not JSON", "model/property/set", () => "{{{", o.meter, none);
  ignored("a JSON array", "model/property/set", () => "[1,2]", o.meter, none);
  ignored("no MessageId", "model/property/set", () => JSON.stringify({ HeaderCtrl: 20, Payload: setPayload, Version: "2.0" }), o.meter, none);
  ignored("MessageId an object", "model/property/set", () => env({ a: 1 }, 20, setPayload), o.meter, none);
  ignored("MessageId of 65 characters", "model/property/set", (id) => env(long(id), 20, setPayload), o.meter, long);
  ignored("MessageId a fraction", "model/property/set", (id) => env(id + 0.5, 20, setPayload), o.meter, (id) => id + 0.5);
  ignored("Payload a string", "model/property/set", (id) => env(id, 20, "sp=9"));
  ignored("Payload null", "model/property/set", (id) => env(id, 20, null));
  ignored("wrong HeaderCtrl for the topic", "model/property/set", (id) => env(id, 21, setPayload));
  ignored("HeaderCtrl 3 (session key)", "downlink", (id) => env(id, 3, { SessionID: "x", Nonce: 1 }));
  ignored("unknown topic", "foo", (id) => env(id, 20, setPayload));
  ignored("over 256 KiB", "model/property/set", (id) => env(id, 20, { params: [{ identify: "sp", value: 9 }], pad: "x".repeat(300 * 1024) }));
  ignored("invalid UTF-8", "model/property/set", () => Buffer.from([0xff, 0xfe, 0x7b, 0x22]), o.meter, none);
  ignored("empty", "model/property/set", () => "", o.meter, none);
  ignored("deep nesting", "model/property/set", (id) => `{"MessageId":${id},"HeaderCtrl":20,"Version":"2.0","Payload":${"[".repeat(5000)}${"]".repeat(5000)}}`);
  ignored("ask, params not a list", "model/property/ask", (id) => env(id, 23, { params: "all" }));
  ignored("ask, params not strings", "model/property/ask", (id) => env(id, 23, { params: [1, 2] }));
  ignored("ack of an unknown uplink", "model/property/report_ack", (id) => env(id, 16, { Code: "200", Msg: "SUCCESS", Data: {} }));
  ignored("not JSON to the gateway", "down_config", () => "<xml/>", o.gateway, none);
  return out;
}
