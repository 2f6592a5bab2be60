/**
 * A readable summary of what the daemon would run for a gateway config: channels (never with a
 * password), the devices on each channel, and their points with polling periods.
 * Used by `fieldbridge check --gateway-config`.
 */
import type { ChannelSpec, DeviceSpec, GatewayConfig } from "./model.js";

const PARITY_LETTER = { none: "N", even: "E", odd: "O" } as const;

function plural(n: number, word: string, words = `${word}s`): string {
  return `${n} ${n === 1 ? word : words}`;
}

function channelLine(c: ChannelSpec): string {
  const head = `channel ${c.serverId} "${c.name}"`;
  switch (c.protocol) {
    case "modbus-tcp":
      return `${head}: Modbus TCP ${c.host.includes(":") ? `[${c.host}]` : c.host}:${c.port}`;
    case "modbus-rtu":
      return `${head}: Modbus RTU ${c.path} ${c.baudRate} ${c.dataBits}${PARITY_LETTER[c.parity]}${c.stopBits}`;
    case "opcua": {
      const security = c.securityMode === "None" ? "no security" : `${c.securityPolicy}/${c.securityMode}`;
      const user = c.userName !== undefined ? `user "${c.userName}"` : "anonymous";
      return `${head}: OPC UA ${c.url} (${security}, ${user}, timeout ${c.timeoutMs / 1000} s)`;
    }
  }
}

/** "1000 ms ×2, 5000 ms" */
function periods(values: Array<number | undefined>, fallback: string): string {
  const counts = new Map<string, number>();
  for (const v of values) {
    const label = v === undefined ? fallback : `${v} ms`;
    counts.set(label, (counts.get(label) ?? 0) + 1);
  }
  return [...counts].map(([label, n]) => (n > 1 ? `${label} ×${n}` : label)).join(", ");
}

function deviceLine(d: DeviceSpec, pending: ReadonlySet<string>): string {
  if (pending.has(d.productKey)) {
    const at = d.modbus ? ` (slave ${d.modbus.slaveId})` : d.opcua ? ` at "${d.opcua.displayNamePath}"` : "";
    return `  device ${d.key}${at}: mapped once its TSL is fetched from the cloud`;
  }
  if (d.modbus) {
    const pts = d.modbus.points;
    const polling = pts.length ? `, polling ${periods(pts.map((p) => p.pollingMs), "")}` : "";
    return `  device ${d.key} (slave ${d.modbus.slaveId}): ${plural(pts.length, "point")}${polling}`;
  }
  if (d.opcua) {
    const o = d.opcua;
    const sampling = o.properties.length ? ` (sampling ${periods(o.properties.map((p) => p.samplingMs), "driver default")})` : "";
    return `  device ${d.key} at "${o.displayNamePath}": ${plural(o.properties.length, "property", "properties")}${sampling}, ` +
      `${plural(o.services.length, "service")}, ${plural(o.events.length, "event")}`;
  }
  return `  device ${d.key}: no mapping`;
}

export function describeGatewayConfig(config: GatewayConfig): string[] {
  const lines: string[] = [];
  const pending = new Set(config.cloudTsl?.pending ?? []);
  for (const c of config.channels) {
    lines.push(channelLine(c));
    const devices = config.devices.filter((d) => d.serverId === c.serverId);
    if (devices.length === 0) lines.push("  (no devices)");
    for (const d of devices) lines.push(deviceLine(d, pending));
  }
  for (const pk of config.cloudTsl?.fetched ?? []) lines.push(`product ${pk}: TSL from the cloud (cached), not in tslList`);
  for (const pk of config.cloudTsl?.pending ?? []) {
    lines.push(`product ${pk}: no tslList entry; its TSL will be fetched from the cloud through one of its devices (devices not polled until then)`);
  }
  const products = Object.keys(config.products);
  lines.push(
    `${plural(config.channels.length, "channel")}, ${plural(config.devices.length, "device")}, ` +
      `${plural(products.length, "product")}${products.length ? ` (${products.join(", ")})` : ""}`,
  );
  return lines;
}
