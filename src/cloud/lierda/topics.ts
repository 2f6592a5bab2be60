/** Topics of one X-platform device (lierda.md §0, §3.8, §5): everything lives under `P = /sys/${OpenID}/${ProductID}/${NodeEui}`. */
import type { DeviceIdentity } from "./credentials.js";

export const AUTH_TOPIC = "/sys/device/auth";

export function prefix(id: DeviceIdentity): string {
  return `/sys/${id.openId}/${id.productId}/${id.nodeEui}`;
}

export function deviceTopics(id: DeviceIdentity) {
  const p = prefix(id);
  return {
    downlink: `${p}/downlink`,
    downlinkAck: `${p}/downlink_ack`,
    propertyReport: `${p}/model/property/report`,
    historyReport: `${p}/model/history/data/report`,
    eventReport: (eventId: string) => `${p}/model/event/${eventId}/report`,
    setAck: `${p}/model/property/set_ack`,
    serviceAck: (serviceId: string) => `${p}/model/service/${serviceId}/ack`,
    configReport: `${p}/config_report`,
    updateTime: `${p}/update_time`,
    firmwareReport: `${p}/firmware_report`,
    otaNotifyAck: `${p}/ota_notify_ack`,
  };
}

/** The filters of the online sequence (§3.8), subscribed in one SUBSCRIBE. */
export function subscriptions(id: DeviceIdentity): string[] {
  const p = prefix(id);
  return [
    `${p}/+`,
    `${p}/model/property/set`,
    `${p}/model/property/ask`,
    `${p}/model/service/+`,
    `${p}/model/property/report_ack`,
    `${p}/model/history/data/report_ack`,
    `${p}/model/event/+/report_ack`,
  ];
}

/** What arrives on a subscribed topic, by its suffix under P. */
export type DownTopic =
  | { kind: "downlink" }
  | { kind: "askConfig" }
  | { kind: "downConfig" }
  | { kind: "askFirmware" }
  | { kind: "otaNotify" }
  | { kind: "firmwareReportAck" }
  | { kind: "updateTimeAck" }
  | { kind: "uplinkAck" }
  | { kind: "set" }
  | { kind: "ask" }
  | { kind: "service"; service: string }
  | { kind: "reportAck"; headerCtrl: 16 | 27 | 17 };

/** HeaderCtrl each request topic must carry (§5); acks repeat the code of what they acknowledge. */
export const HEADER_CTRL: Record<DownTopic["kind"], number[]> = {
  downlink: [1, 3, 7],
  askConfig: [14],
  downConfig: [14],
  askFirmware: [13],
  otaNotify: [9],
  firmwareReportAck: [8],
  updateTimeAck: [29],
  uplinkAck: [4],
  set: [20],
  ask: [23],
  service: [21],
  reportAck: [16, 17, 27],
};

const FIXED: Record<string, DownTopic> = {
  downlink: { kind: "downlink" },
  ask_config: { kind: "askConfig" },
  down_config: { kind: "downConfig" },
  ask_firmware: { kind: "askFirmware" },
  ota_notify: { kind: "otaNotify" },
  firmware_report_ack: { kind: "firmwareReportAck" },
  update_time_ack: { kind: "updateTimeAck" },
  uplink_ack: { kind: "uplinkAck" },
  "model/property/set": { kind: "set" },
  "model/property/ask": { kind: "ask" },
  "model/property/report_ack": { kind: "reportAck", headerCtrl: 16 },
  "model/history/data/report_ack": { kind: "reportAck", headerCtrl: 27 },
};

/** Classifies a topic of device `id`; undefined for anything else (another device, an unknown suffix, own acks). */
export function classify(id: DeviceIdentity, topic: string): DownTopic | undefined {
  const p = `${prefix(id)}/`;
  if (!topic.startsWith(p)) return undefined;
  const rest = topic.slice(p.length);
  const fixed = FIXED[rest];
  if (fixed) return fixed;
  const service = /^model\/service\/([^/]+)$/.exec(rest);
  if (service) return { kind: "service", service: service[1]! };
  if (/^model\/event\/[^/]+\/report_ack$/.test(rest)) return { kind: "reportAck", headerCtrl: 17 };
  return undefined;
}
