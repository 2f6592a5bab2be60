/**
 * `fieldbridge check --gateway-config <file>`: validates a gateway config document without connecting
 * anywhere. Prints every problem on its own line as `path: message` (warnings as
 * `path: warning: message`), then, when the document is valid, what the daemon would run.
 * Without a bootstrap config the serial port mapping and the OPC UA passwords cannot be checked.
 */
import { readFile } from "node:fs/promises";
import type { BootstrapConfig } from "../bootstrap/load.js";
import { bootstraps, documentCheck } from "../../cloud/bootstraps.js";
import { describeGatewayConfig } from "./describe.js";
import { loadGatewayDocument } from "./index.js";
import type { ParseContext } from "./parse.js";

/** True when the document has no error. */
export async function checkGatewayConfigFile(
  file: string,
  bootstrap: BootstrapConfig | undefined,
  out: NodeJS.WritableStream,
): Promise<boolean> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    out.write(`${file}: cannot read the gateway config (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})\n`);
    return false;
  }
  // The password key as the platform derives it from the bootstrap file; a key learnt only at run time is not checked.
  const secret = bootstrap ? bootstraps[bootstrap.gateway.platform]?.documentSecret(bootstrap) : undefined;
  // The platform's own document rules need its bootstrap config; without one only the common rules apply.
  const checkDocument = bootstrap ? documentCheck(bootstrap) : undefined;
  const ctx: ParseContext = bootstrap
    ? { serialPorts: bootstrap.serialPorts, gatewayDeviceSecret: secret ?? "", ...(secret === undefined ? { unchecked: { passwords: true } } : {}), ...(checkDocument ? { checkDocument } : {}) }
    : { serialPorts: {}, gatewayDeviceSecret: "", unchecked: { serialPorts: true, passwords: true } };
  const result = loadGatewayDocument(bytes, ctx);
  const errors = result.problems.filter((p) => p.severity === "error").length;
  const warnings = result.problems.length - errors;
  for (const p of result.problems) out.write(`${p.path}: ${p.severity === "warning" ? "warning: " : ""}${p.message}\n`);
  if (errors > 0) {
    out.write(`${file}: invalid gateway config (${errors} error${errors === 1 ? "" : "s"}, ${warnings} warning${warnings === 1 ? "" : "s"})\n`);
    return false;
  }
  out.write(`${file}: valid gateway config${warnings ? ` (${warnings} warning${warnings === 1 ? "" : "s"})` : ""}\n`);
  for (const line of describeGatewayConfig(result.config)) out.write(`  ${line}\n`);
  return true;
}
