/**
 * The local test PKI (test/fixtures/tls): a root CA, a server certificate for 127.0.0.1/localhost signed by
 * it, and an unrelated CA with its own server certificate for negative tests. The emulator broker and the
 * file server present `server.pem`; clients trust `ca.pem`.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** Certificate and key a TLS listener presents. */
export interface ServerTlsMaterial {
  cert: string;
  key: string;
}

export interface TestPki {
  /** The directory holding the PEM files. */
  dir: string;
  /** PEM of the CA that signed `server`; what clients must trust. */
  ca: string;
  server: ServerTlsMaterial;
  /** PEM of a CA that signed nothing the emulator presents. */
  otherCa: string;
  /** A certificate for the same names, signed by `otherCa`. */
  otherServer: ServerTlsMaterial;
}

/** The fixture folder; resolved from this file so it works under tsx (src/) and from a build (dist/). */
export const TEST_PKI_DIR = fileURLToPath(new URL("../../../test/fixtures/tls/", import.meta.url));

let cached: TestPki | undefined;

/** Reads the fixture PEM files once. Throws with the folder name when they are missing. */
export function testPki(): TestPki {
  if (cached) return cached;
  const read = (name: string) => {
    try {
      return readFileSync(join(TEST_PKI_DIR, name), "utf8");
    } catch (err) {
      throw new Error(`test TLS material ${name} not readable in ${TEST_PKI_DIR}: ${(err as Error).message}`);
    }
  };
  cached = {
    dir: TEST_PKI_DIR,
    ca: read("ca.pem"),
    server: { cert: read("server.pem"), key: read("server-key.pem") },
    otherCa: read("other-ca.pem"),
    otherServer: { cert: read("other-server.pem"), key: read("other-server-key.pem") },
  };
  return cached;
}
