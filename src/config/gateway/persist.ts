/**
 * The last good gateway config, kept as the document exactly as downloaded (passwords still encrypted)
 * in `dataDir/gateway-config.json`. Written atomically: a temp file in the same directory, fsync,
 * rename over the old file, fsync the directory, so a power cut leaves either the old or the new file.
 */
import { randomBytes } from "node:crypto";
import { open, readFile, rename, unlink } from "node:fs/promises";
import { join } from "node:path";

export const GATEWAY_CONFIG_FILE = "gateway-config.json";

export function gatewayConfigPath(dataDir: string): string {
  return join(dataDir, GATEWAY_CONFIG_FILE);
}

export async function writeGatewayConfigAtomic(dataDir: string, bytes: Uint8Array): Promise<void> {
  await writeDataFileAtomic(dataDir, GATEWAY_CONFIG_FILE, bytes);
}

/** Writes `dataDir/name` atomically (temp file, fsync, rename, fsync of the directory). */
export async function writeDataFileAtomic(dataDir: string, name: string, bytes: Uint8Array): Promise<void> {
  const target = join(dataDir, name);
  const temp = join(dataDir, `.${name}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  const file = await open(temp, "wx", 0o600);
  try {
    try {
      await file.writeFile(bytes);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temp, target);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw err;
  }
  const dir = await open(dataDir, "r");
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/** The persisted document, or null when there is none yet. */
export async function readPersisted(dataDir: string): Promise<Buffer | null> {
  try {
    return await readFile(gatewayConfigPath(dataDir));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
}
