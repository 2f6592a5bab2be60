/** The one key of a device everywhere inside the daemon: `productKey/deviceName` of the gateway config document. */
export type DeviceKey = string;

export function deviceKey(productKey: string, deviceName: string): DeviceKey {
  return `${productKey}/${deviceName}`;
}

/** The two halves of a key; undefined when it is not a key. */
export function splitDeviceKey(key: DeviceKey): { productKey: string; deviceName: string } | undefined {
  const slash = key.indexOf("/");
  if (slash <= 0 || slash === key.length - 1) return undefined;
  return { productKey: key.slice(0, slash), deviceName: key.slice(slash + 1) };
}
