/** The one topic builder for Alink (alink.md section 2). `pk/dn` = the device the message concerns. */

export interface Identity {
  productKey: string;
  deviceName: string;
}

const sys = (d: Identity) => `/sys/${d.productKey}/${d.deviceName}`;
const session = (gw: Identity) => `/ext/session/${gw.productKey}/${gw.deviceName}`;

export const topics = {
  // gateway identity
  subRegister: (gw: Identity) => `${sys(gw)}/thing/sub/register`,
  topoAdd: (gw: Identity) => `${sys(gw)}/thing/topo/add`,
  topoDelete: (gw: Identity) => `${sys(gw)}/thing/topo/delete`,
  topoGet: (gw: Identity) => `${sys(gw)}/thing/topo/get`,
  topoAddNotify: (gw: Identity) => `${sys(gw)}/thing/topo/add/notify`,
  login: (gw: Identity) => `${session(gw)}/combine/login`,
  logout: (gw: Identity) => `${session(gw)}/combine/logout`,
  extError: (gw: Identity) => `/ext/error/${gw.productKey}/${gw.deviceName}`,
  packPost: (gw: Identity) => `${sys(gw)}/thing/event/property/pack/post`,
  configPush: (gw: Identity) => `${sys(gw)}/thing/model/config/push`,
  // any device (gateway or sub-device)
  propertyPost: (d: Identity) => `${sys(d)}/thing/event/property/post`,
  eventPost: (d: Identity, event: string) => `${sys(d)}/thing/event/${event}/post`,
  propertySet: (d: Identity) => `${sys(d)}/thing/service/property/set`,
  propertyGet: (d: Identity) => `${sys(d)}/thing/service/property/get`,
  service: (d: Identity, service: string) => `${sys(d)}/thing/service/${service}`,
  serviceWildcard: (d: Identity) => `${sys(d)}/thing/service/+`,
  eventReplyWildcard: (d: Identity) => `${sys(d)}/thing/event/+/post_reply`,
  disable: (d: Identity) => `${sys(d)}/thing/disable`,
  enable: (d: Identity) => `${sys(d)}/thing/enable`,
  delete: (d: Identity) => `${sys(d)}/thing/delete`,
  rrpcRequestWildcard: (d: Identity) => `${sys(d)}/rrpc/request/+`,
  rrpcResponse: (d: Identity, messageId: string) => `${sys(d)}/rrpc/response/${messageId}`,
  // device tags (alink.md 3.17) and remote configuration (3.20)
  tagsUpdate: (d: Identity) => `${sys(d)}/thing/deviceinfo/update`,
  tagsDelete: (d: Identity) => `${sys(d)}/thing/deviceinfo/delete`,
  remoteConfigGet: (d: Identity) => `${sys(d)}/thing/config/get`,
  remoteConfigPush: (d: Identity) => `${sys(d)}/thing/config/push`,
  // OTA (gateway's own firmware)
  otaInform: (d: Identity) => `/ota/device/inform/${d.productKey}/${d.deviceName}`,
  otaUpgrade: (d: Identity) => `/ota/device/upgrade/${d.productKey}/${d.deviceName}`,
  otaProgress: (d: Identity) => `/ota/device/progress/${d.productKey}/${d.deviceName}`,
  otaRequest: (d: Identity) => `/ota/device/request/${d.productKey}/${d.deviceName}`,
} as const;

/** The reply topic of a request topic. */
export function replyTopic(requestTopic: string): string {
  return `${requestTopic}_reply`;
}

/** Topics the gateway subscribes on every CONNACK (alink.md section 2.2). */
export function gatewaySubscriptions(gw: Identity): string[] {
  return [
    replyTopic(topics.subRegister(gw)),
    replyTopic(topics.topoAdd(gw)),
    replyTopic(topics.topoDelete(gw)),
    replyTopic(topics.topoGet(gw)),
    topics.topoAddNotify(gw),
    replyTopic(topics.login(gw)),
    replyTopic(topics.logout(gw)),
    topics.extError(gw),
    replyTopic(topics.packPost(gw)),
    topics.configPush(gw),
    ...deviceSubscriptions(gw),
    replyTopic(topics.remoteConfigGet(gw)),
    topics.remoteConfigPush(gw),
    topics.otaUpgrade(gw),
    topics.otaRequest(gw),
  ];
}

/** A device's own downlink and reply topics (gateway at connect; a sub-device after its login). */
export function deviceSubscriptions(d: Identity): string[] {
  return [
    replyTopic(topics.propertyPost(d)),
    topics.eventReplyWildcard(d),
    topics.propertySet(d),
    topics.propertyGet(d),
    topics.serviceWildcard(d),
    topics.disable(d),
    topics.enable(d),
    topics.delete(d),
    topics.rrpcRequestWildcard(d),
    replyTopic(topics.tagsUpdate(d)),
    replyTopic(topics.tagsDelete(d)),
  ];
}

export interface ParsedSysTopic {
  productKey: string;
  deviceName: string;
  /** The part after `/sys/{pk}/{dn}/`, e.g. `thing/service/property/set`. */
  rest: string;
}

/** Splits `/sys/{pk}/{dn}/rest…`; null for other topics. */
export function parseSysTopic(topic: string): ParsedSysTopic | null {
  const m = /^\/sys\/([^/]+)\/([^/]+)\/(.+)$/.exec(topic);
  return m ? { productKey: m[1]!, deviceName: m[2]!, rest: m[3]! } : null;
}
