import { readFileSync } from "node:fs";
import { parseGatewayConfig, diffGatewayConfig } from "./src/config/gateway/index.js";
const doc = JSON.parse(readFileSync("config/gateway-config.example.json", "utf8"));
const base = doc.modelList[0].properties;
doc.modelList[0].properties = [];
doc.tslList[0].properties = [];
for (let i = 0; i < 300; i++) {
  doc.modelList[0].properties.push({ ...structuredClone(base[0]), identifier: `t${i}`, registerAddress: i * 2 });
  doc.tslList[0].properties.push({ identifier: `t${i}`, name: `t${i}`, accessMode: "r", dataType: { type: "float", specs: {} } });
}
doc.deviceList = [];
for (let i = 0; i < 1500; i++) doc.deviceList.push({ productKey: "a1EnvMeter", deviceName: `dev-${i}`, deviceConfig: { serverId: doc.serverList[0].serverId, slaveId: (i % 247) + 1 } });
const ctx = { serialPorts: { "0": "/dev/x" }, gatewayDeviceSecret: "0123456789abcdef0123456789abcdef" };
for (let k = 0; k < 2; k++) {
const t0 = Date.now();
const r = parseGatewayConfig(doc, ctx);
const t1 = Date.now();
const r2 = parseGatewayConfig(doc, ctx);
const t2 = Date.now();
diffGatewayConfig(r.config, r2.config);
const t3 = Date.now();
doc.modelList[0].properties[5].pollingTime = 3000 + k;
const r3 = parseGatewayConfig(doc, ctx);
const t4 = Date.now();
const d = diffGatewayConfig(r.config, r3.config);
console.log("parse ms", t1 - t0, "diff same ms", t3 - t2, "diff changed ms", Date.now() - t4, d.devices.filter(x=>x.kind==="changed").length);
}
