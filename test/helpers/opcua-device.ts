/**
 * One OPC UA device twice over: as the simulator serves it (a Double variable and the method
 * Add(a, b) -> sum) and as the gateway maps it (device pk/<serverId>, one property on change, service "add").
 */
import type { DeviceSpec } from "../../src/config/gateway/model.js";
import type { SimDeviceSpec } from "../../src/sim/opcua/index.js";

export interface AdderDevice {
  /** DisplayName path of the device node below Objects. */
  path: string;
  /** DisplayName of its Double variable. */
  variable: string;
  /** The TSL property that variable feeds. */
  property: string;
}

export function adderSimDevice(d: AdderDevice, value: number): SimDeviceSpec {
  return {
    path: d.path,
    variables: [{ name: d.variable, dataType: "Double", value }],
    methods: [{ name: "Add", inputs: [{ name: "a", dataType: "Double" }, { name: "b", dataType: "Double" }], outputs: [{ name: "sum", dataType: "Double" }], run: ([a, b]) => [Number(a) + Number(b)] }],
  };
}

/** The device on the channel `serverId`, named after it so that each channel has its own. */
export function adderDeviceSpec(d: AdderDevice, serverId: string): DeviceSpec {
  return {
    key: `pk/${serverId}`,
    productKey: "pk",
    deviceName: serverId,
    serverId,
    opcua: {
      displayNamePath: d.path,
      properties: [{ identifier: d.property, displayName: d.variable, trigger: 2, tslType: "double" }],
      services: [{ identifier: "add", displayName: "Add", inputs: [{ identifier: "a", index: 0 }, { identifier: "b", index: 1 }], outputs: [{ identifier: "sum", index: 0 }] }],
      events: [],
    },
  };
}
