/**
 * The demo's thing models and gateway config document (the file the platform delivers), for whatever product and
 * device names the platform's world gives them.
 */
import type { TslDocument } from "../things/tsl-types.js";
import type { WorldNaming } from "./world.js";

export const OPCUA_USER = { userName: "demo", password: "demo-pass-123" };

const num = (type: "int" | "float" | "double", min: number, max: number, unit: string) => ({ type, specs: { min: String(min), max: String(max), unit } });

export const meterTsl = (productKey: string): TslDocument => ({
  schema: "https://iotx-tsl.oss-ap-southeast-1.aliyuncs.com/schema.json",
  profile: { productKey },
  properties: [
    { identifier: "Voltage", name: "Voltage", accessMode: "r", dataType: num("float", 0, 500, "V") },
    { identifier: "Current", name: "Current", accessMode: "r", dataType: num("float", 0, 100, "A") },
    { identifier: "Energy", name: "Energy", accessMode: "r", dataType: num("double", 0, 1e9, "kWh") },
    { identifier: "Setpoint", name: "Setpoint", accessMode: "rw", dataType: num("int", 0, 100, "%") },
    { identifier: "Running", name: "Running", accessMode: "r", dataType: { type: "bool", specs: { "0": "stopped", "1": "running" } } },
  ],
  events: [],
  services: [],
});

export const boilerTsl = (productKey: string): TslDocument => ({
  schema: "https://iotx-tsl.oss-ap-southeast-1.aliyuncs.com/schema.json",
  profile: { productKey },
  properties: [
    { identifier: "Temperature", name: "Temperature", accessMode: "r", dataType: num("double", -50, 500, "°C") },
    { identifier: "Pressure", name: "Pressure", accessMode: "r", dataType: num("double", 0, 100, "bar") },
    { identifier: "Burner", name: "Burner", accessMode: "r", dataType: { type: "bool", specs: { "0": "off", "1": "on" } } },
    { identifier: "TargetTemperature", name: "TargetTemperature", accessMode: "rw", dataType: num("double", 0, 300, "°C") },
  ],
  events: [],
  services: [
    {
      identifier: "Add", name: "Add", callType: "async",
      inputData: [{ identifier: "a", name: "a", dataType: num("double", -1e6, 1e6, "") }, { identifier: "b", name: "b", dataType: num("double", -1e6, 1e6, "") }],
      outputData: [{ identifier: "sum", name: "sum", dataType: num("double", -1e7, 1e7, "") }],
    },
  ],
});

const modbusPoint = (identifier: string, operateType: string, registerAddress: string, type: string, registerCount: number, scaling = 1, trigger = 1) => ({
  identifier, operateType, registerAddress, scaling, pollingTime: 1000, trigger,
  originalDataType: { type, specs: { registerCount, swap16: 0, reverseRegister: 0 } },
});

export interface DemoNames {
  /** Two Modbus meters. */
  meter: WorldNaming;
  /** One OPC UA boiler. */
  boiler: WorldNaming;
}

/** The gateway config document, with the simulators' ports and the OPC UA password encrypted for this gateway. */
export function demoGatewayConfig(names: DemoNames, modbusPort: number, opcuaUrl: string, encryptedPassword: string): object {
  const { meter, boiler } = names;
  return {
    modelList: [
      {
        profile: { productKey: meter.product },
        properties: [
          modbusPoint("Voltage", "holdingRegister", "0x00", "float", 2),
          modbusPoint("Current", "holdingRegister", "0x02", "float", 2),
          modbusPoint("Energy", "inputRegister", "0x00", "uint32", 2, 0.1),
          modbusPoint("Setpoint", "holdingRegister", "0x0A", "int16", 1, 1, 2),
          modbusPoint("Running", "coilStatus", "0x00", "bool", 1, 1, 2),
        ],
      },
      {
        profile: { productKey: boiler.product },
        properties: [
          { identifier: "Temperature", displayName: "Temperature" },
          { identifier: "Pressure", displayName: "Pressure" },
          { identifier: "Burner", displayName: "Burner" },
          { identifier: "TargetTemperature", displayName: "TargetTemperature" },
        ],
        services: [{ identifier: "Add", displayName: "Add", inputData: [{ identifier: "a", index: 0 }, { identifier: "b", index: 1 }], outputData: [{ identifier: "sum", index: 0 }] }],
        events: [],
      },
    ],
    serverList: [
      { protocol: "TCP", ip: "127.0.0.1", port: modbusPort, name: "demo-modbus-tcp", serverId: "DEMO0MODBUS0TCP" },
      {
        name: "demo-opcua", serverId: "DEMO0OPCUA0SRV", url: opcuaUrl, secPolicy: "Basic256Sha256", secMode: "SignAndEncrypt",
        userName: OPCUA_USER.userName, password: encryptedPassword, timeout: 10,
      },
    ],
    deviceList: [
      { productKey: meter.product, deviceName: meter.devices[0], deviceConfig: { slaveId: 1, serverId: "DEMO0MODBUS0TCP" } },
      { productKey: meter.product, deviceName: meter.devices[1], deviceConfig: { slaveId: 2, serverId: "DEMO0MODBUS0TCP" } },
      { productKey: boiler.product, deviceName: boiler.devices[0], deviceConfig: { displayNamePath: "Plant/Boiler1", serverId: "DEMO0OPCUA0SRV" } },
    ],
    tslList: [meterTsl(meter.product), boilerTsl(boiler.product)],
  };
}
