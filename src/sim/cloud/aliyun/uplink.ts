/**
 * Routes one device publish by topic (alink.md section 2.1). A `/sys` message under a sub-device without a
 * session on this connection is answered on `/ext/error/{gpk}/{gdn}` with 520 and the sub-device's identity
 * (section 3.9). Replies to downlinks settle the waiting helper.
 */
import { wire } from "./wire.js";
import { type Core, type Uplink } from "./context.js";
import { handleEventPost, handlePackPost, handlePropertyPost } from "./data.js";
import type { OtaDesk } from "./ota.js";
import type { PendingReplies } from "./pending.js";
import { keyOf } from "./registry.js";
import { handleConfigGet } from "./config.js";
import { handleLogin, handleLogout } from "./session.js";
import { handleRegister, handleTopoAdd, handleTopoDelete, handleTopoGet } from "./topo.js";
import { handleDslTemplateGet, handleListFound } from "./discovery.js";

const GATEWAY_ONLY = new Map<string, (core: Core, up: Uplink) => void>([
  ["thing/sub/register", handleRegister],
  ["thing/topo/add", handleTopoAdd],
  ["thing/topo/delete", handleTopoDelete],
  ["thing/topo/get", handleTopoGet],
  ["thing/event/property/pack/post", handlePackPost],
  ["thing/list/found", (core, up) => handleListFound(core, core.discovery, up)],
]);

export function routeUplink(core: Core, up: Uplink, pending: PendingReplies, ota: OtaDesk): void {
  const { scope } = up;
  switch (scope.kind) {
    case "session":
      return scope.rest === "combine/login" ? handleLogin(core, up) : handleLogout(core, up);
    case "ota":
      return ota.handle(core, up);
    case "icsys":
      core.reject({ deviceKey: up.conn.key, topic: up.topic, code: 0, reason: "icsys is not a platform namespace; use /sys" });
      return;
    case "error":
      return;
    case "sys":
      return routeSys(core, up, pending);
  }
}

function routeSys(core: Core, up: Uplink, pending: PendingReplies): void {
  const key = keyOf(up.scope.productKey, up.scope.deviceName);
  const own = key === up.conn.key;
  const device = own ? up.conn : core.registry.get(key);
  if (!device || (!own && device.online?.client !== up.client)) {
    core.send(wire.extError(up.conn), {
      ...(up.id !== undefined ? { id: up.id } : {}),
      code: 520,
      message: "device session error",
      data: { productKey: up.scope.productKey, deviceName: up.scope.deviceName },
    });
    core.reject({ deviceKey: key, topic: up.topic, msgId: up.id === undefined ? undefined : String(up.id), code: 520, reason: "no session for this sub-device on this connection" });
    return;
  }
  const rest = up.scope.rest;
  if (rest.endsWith("_reply") || rest.startsWith("rrpc/response/")) {
    if (!up.msg || !pending.settle(up.topic, up.msg)) {
      core.reject({ deviceKey: key, topic: up.topic, code: 0, reason: "reply matches no pending downlink" });
    }
    return;
  }
  if (rest === "thing/event/property/post") return handlePropertyPost(core, up, device);
  if (rest === "thing/deviceinfo/update" || rest === "thing/deviceinfo/delete") return core.tags.handle(core, up, device, rest.endsWith("update") ? "update" : "delete");
  if (rest === "thing/config/get") return handleConfigGet(core, up, device, core.remoteConfigs);
  if (rest === "thing/dsltemplate/get") return handleDslTemplateGet(core, core.discovery, up, device);
  const event = /^thing\/event\/([^/]+)\/post$/.exec(rest);
  if (event && event[1] !== "property") return handleEventPost(core, up, device, event[1]!);
  const gatewayHandler = GATEWAY_ONLY.get(rest);
  if (gatewayHandler && own) return gatewayHandler(core, up);
  const reason = gatewayHandler ? `${rest} must be sent under the gateway's own identity` : `unsupported topic ${rest}`;
  core.reply(up, 460, { message: reason });
  core.reject({ deviceKey: key, topic: up.topic, msgId: up.id === undefined ? undefined : String(up.id), code: 460, reason });
}
