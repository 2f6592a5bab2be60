/**
 * Sub-device sessions: `combine/login` and `combine/logout` (alink.md sections 3.7, 3.8). Both messages
 * carry exactly `{id, params}`. Login checks, in order: 460 malformed, 6100 unknown, 521 deleted, 522
 * disabled, 6287 bad sign, 6401 not bound to this gateway, 429 more than 5 logins within 60 s, 428 the
 * gateway's online cap. A login of a device online elsewhere kicks that session with 427.
 */
import { signAlgorithm, signedItemValid } from "./wire.js";
import { type Core, type Uplink, str, validMessageId } from "./context.js";
import { keyOf } from "./registry.js";
import { isPlainObject } from "../tsl-check.js";

export const LOGIN_WINDOW_MS = 60_000;
export const LOGINS_PER_WINDOW = 5;

/** The envelope rule shared by login and logout; returns the params or a reason. */
function sessionParams(up: Uplink): Record<string, unknown> | string {
  if (!up.msg) return "payload is not a JSON object";
  if (!validMessageId(up.id)) return "id must be a numeric string";
  const extra = Object.keys(up.msg).filter((k) => k !== "id" && k !== "params");
  if (extra.length > 0) return `login/logout carry only id and params (found ${extra.join(", ")})`;
  const params = up.msg["params"];
  if (!isPlainObject(params)) return "params must be an object";
  if (!str(params["productKey"]) || !str(params["deviceName"])) return "params.productKey and params.deviceName are required";
  return params;
}

export function handleLogin(core: Core, up: Uplink): void {
  const params = sessionParams(up);
  const pk = typeof params === "object" ? (params["productKey"] as string) : undefined;
  const dn = typeof params === "object" ? (params["deviceName"] as string) : undefined;
  const deviceKey = pk && dn ? keyOf(pk, dn) : "";
  const answer = answerer(core, up, "logins", deviceKey);
  if (typeof params === "string") return answer(460, params);
  for (const k of ["timestamp", "signMethod", "sign"]) {
    if (!str(params[k])) return answer(460, `params.${k} is required`);
  }
  if (!signAlgorithm(params["signMethod"])) return answer(460, `unsupported signMethod ${String(params["signMethod"])}`);
  const cs = params["cleanSession"];
  if (cs !== undefined && cs !== "true" && cs !== "false") return answer(460, 'cleanSession must be "true" or "false"');
  if (deviceKey === up.conn.key) return answer(460, "a gateway cannot log itself in as its own sub-device");

  const fault = core.faults.take("login", [deviceKey]);
  if (fault) return answer(fault.code, fault.message);

  const device = core.registry.get(deviceKey);
  if (!device) return answer(6100, "device not found");
  if (device.deleted) return answer(521, "device deleted");
  if (device.disabled) return answer(522, "device forbidden");
  if (!signedItemValid(params, device.secret)) return answer(6287, "invalid sign");
  if (device.topoParent !== up.conn.key) return answer(6401, "topo relation not exist");

  const now = core.now();
  device.loginTimes = device.loginTimes.filter((t) => now - t < LOGIN_WINDOW_MS);
  if (device.loginTimes.length >= core.loginsPerWindow) return answer(429, "rate limit, too many subDeviceOnline msg in one minute");
  const online = core.registry.sessionsUnder(up.conn.key).filter((d) => d.key !== deviceKey).length;
  if (online >= core.onlineCap) return answer(428, "too many subdevices under gateway");

  if (device.online && device.online.client !== up.client) {
    core.endSession(device, { code: 427, message: "device connect in elsewhere" });
  }
  device.online = { client: up.client, gatewayKey: up.conn.key, since: now, cleanSession: cs !== "false" };
  device.loginTimes.push(now);
  answer(200);
}

export function handleLogout(core: Core, up: Uplink): void {
  const params = sessionParams(up);
  const deviceKey = typeof params === "object" ? keyOf(params["productKey"] as string, params["deviceName"] as string) : "";
  const answer = answerer(core, up, "logouts", deviceKey);
  if (typeof params === "string") return answer(460, params);
  const fault = core.faults.take("logout", [deviceKey]);
  if (fault) return answer(fault.code, fault.message);
  const device = core.registry.get(deviceKey);
  if (!device?.online || device.online.client !== up.client || device.online.gatewayKey !== up.conn.key) {
    return answer(520, "device no session");
  }
  core.endSession(device);
  answer(200);
}

/** Replies to a login or logout and records it. */
function answerer(core: Core, up: Uplink, kind: "logins" | "logouts", deviceKey: string) {
  return (code: number, reason?: string): void => {
    core.reply(up, code, { message: reason ?? "success", data: "" });
    core.records.add(kind, { deviceKey, gatewayKey: up.conn.key, msgId: String(up.id ?? ""), code, ...(reason ? { reason } : {}), time: core.now() });
  };
}
