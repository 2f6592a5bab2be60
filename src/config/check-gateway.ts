/** `fieldbridge check --gateway-config <file>`: validates a gateway config document offline, with the daemon's code. */
import { readFileSync } from "node:fs";
import type { BootstrapConfig } from "./bootstrap/load.js";
import { loadGatewayDocument, describeGatewayConfig, formatProblem } from "./gateway/index.js";

/** Prints one `path: message` line per problem, then what would run. Returns true when nothing is an error. */
export function checkGatewayConfigFile(file: string, bootstrap: BootstrapConfig | undefined, out: NodeJS.WritableStream): boolean {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    out.write(`${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})\n`);
    return false;
  }
  const result = loadGatewayDocument(bytes, {
    serialPorts: bootstrap?.serialPorts ?? {},
    // Without a bootstrap config the passwords cannot be decrypted; that is reported per server.
    gatewayDeviceSecret: bootstrap?.gateway.deviceSecret ?? "",
  });
  const errors = result.problems.filter((p) => p.severity === "error");
  for (const p of result.problems) out.write(`${p.severity === "warning" ? "warning: " : ""}${formatProblem(p)}\n`);
  if (result.fatal) {
    out.write(`${file}: invalid gateway config\n`);
    return false;
  }
  out.write(errors.length ? `${file}: ${errors.length} error(s); the daemon would reject this document\n` : `${file}: valid gateway config\n`);
  for (const line of describeGatewayConfig(result.config)) out.write(`${line}\n`);
  return errors.length === 0;
}
