/**
 * Trust on first use for OPC UA server certificates.
 *
 * The first certificate a server presents is pinned per serverId under `<pki>/pinned/`. A later, different
 * certificate is refused (and saved under `<pki>/rejected/` so the operator can inspect it) unless the operator
 * has placed that certificate in `<pki>/trusted/certs/`, the client certificate manager's trusted folder;
 * then it replaces the pin. Only node:crypto and node:fs are used, so this loads without node-opcua.
 */
import { createHash, X509Certificate } from "node:crypto";
import { mkdir, readdir, readFile, rename, writeFile } from "node:fs/promises";
import path from "node:path";

export type TrustOutcome = "first-use" | "pinned" | "operator-trusted";

export interface TrustDecision {
  outcome: TrustOutcome;
  thumbprint: string;
  /** The thumbprint that was pinned before an operator-trusted replacement. */
  previous?: string;
}

/** A certificate that differs from the pinned one and that the operator has not trusted. */
export class CertificateRefusedError extends Error {
  constructor(
    readonly serverId: string,
    readonly thumbprint: string,
    readonly pinnedThumbprint: string,
    readonly savedAs: string,
    readonly trustedDir: string,
  ) {
    super(
      `server certificate changed: got ${thumbprint}, pinned ${pinnedThumbprint}; refused. ` +
        `If the change is expected, copy ${savedAs} into ${trustedDir}`,
    );
    this.name = "CertificateRefusedError";
  }
}

interface PinRecord {
  serverId: string;
  url: string;
  thumbprint: string;
  pinnedAt: string;
  /** DER, base64. */
  certificate: string;
}

/** Length of the first DER element of a (possibly concatenated) certificate chain. */
function firstDerLength(buf: Buffer): number {
  if (buf.length < 2 || buf[0] !== 0x30) throw new Error("not a DER certificate");
  const first = buf[1]!;
  if (first < 0x80) return 2 + first;
  const n = first & 0x7f;
  if (n < 1 || n > 4 || buf.length < 2 + n) throw new Error("bad DER length");
  let len = 0;
  for (let i = 0; i < n; i++) len = len * 256 + buf[2 + i]!;
  return 2 + n + len;
}

/** The leaf certificate of a DER chain as servers send it (certificates concatenated). */
export function leafCertificate(chain: Buffer): Buffer {
  const len = firstDerLength(chain);
  if (len > chain.length) throw new Error("truncated DER certificate");
  return chain.subarray(0, len);
}

/** SHA-1 of the DER certificate in hex: the OPC UA CertificateDigest / thumbprint. */
export function certificateThumbprint(der: Buffer): string {
  return createHash("sha1").update(leafCertificate(der)).digest("hex");
}

/** Reads a .der or .pem file into DER certificates. */
function certificatesInFile(data: Buffer): Buffer[] {
  const text = data.toString("latin1");
  if (text.includes("-----BEGIN CERTIFICATE-----")) {
    const out: Buffer[] = [];
    for (const m of text.matchAll(/-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g)) {
      out.push(Buffer.from(m[1]!.replace(/\s+/g, ""), "base64"));
    }
    return out;
  }
  return data.length > 0 ? [data] : [];
}

function safeFileName(id: string): string {
  const cleaned = id.replace(/[^A-Za-z0-9._-]/g, "_");
  if (cleaned === id && cleaned.length > 0 && cleaned.length <= 100) return cleaned;
  return `${cleaned.slice(0, 60)}-${createHash("sha1").update(id).digest("hex").slice(0, 12)}`;
}

async function writeAtomic(file: string, data: string | Buffer): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, data, { mode: 0o644 });
  await rename(tmp, file);
}

export interface CertificatePinsOptions {
  /** The client PKI root (`<dataDir>/pki`); its `trusted/certs` is where the operator places certificates. */
  pkiDir: string;
}

export class CertificatePins {
  readonly pinnedDir: string;
  readonly trustedDir: string;
  readonly rejectedDir: string;

  constructor(options: CertificatePinsOptions) {
    this.pinnedDir = path.join(options.pkiDir, "pinned");
    this.trustedDir = path.join(options.pkiDir, "trusted", "certs");
    this.rejectedDir = path.join(options.pkiDir, "rejected");
  }

  private pinFile(serverId: string): string {
    return path.join(this.pinnedDir, `${safeFileName(serverId)}.json`);
  }

  async pinned(serverId: string): Promise<PinRecord | undefined> {
    try {
      const rec = JSON.parse(await readFile(this.pinFile(serverId), "utf8")) as PinRecord;
      return typeof rec.thumbprint === "string" ? rec : undefined;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw new Error(`unreadable certificate pin for server ${serverId}: ${(err as Error).message}`);
    }
  }

  /** True when a certificate with this thumbprint sits in the trusted folder. */
  async isOperatorTrusted(thumbprint: string): Promise<boolean> {
    let names: string[];
    try {
      names = await readdir(this.trustedDir);
    } catch {
      return false;
    }
    for (const name of names) {
      let data: Buffer;
      try {
        data = await readFile(path.join(this.trustedDir, name));
      } catch {
        continue;
      }
      for (const der of certificatesInFile(data)) {
        try {
          if (certificateThumbprint(der) === thumbprint) return true;
        } catch {
          // not a certificate: ignore
        }
      }
    }
    return false;
  }

  private async pin(serverId: string, url: string, der: Buffer, thumbprint: string): Promise<void> {
    await mkdir(this.pinnedDir, { recursive: true, mode: 0o700 });
    const rec: PinRecord = { serverId, url, thumbprint, pinnedAt: new Date().toISOString(), certificate: der.toString("base64") };
    await writeAtomic(this.pinFile(serverId), `${JSON.stringify(rec, null, 2)}\n`);
  }

  /**
   * Decides whether the certificate a server presents is acceptable; pins it on first use.
   * Throws CertificateRefusedError for a changed certificate the operator has not trusted.
   */
  async check(serverId: string, url: string, certificateChain: Buffer): Promise<TrustDecision> {
    const der = Buffer.from(leafCertificate(certificateChain));
    const thumbprint = certificateThumbprint(der);
    const rec = await this.pinned(serverId);
    if (!rec) {
      await this.pin(serverId, url, der, thumbprint);
      return { outcome: "first-use", thumbprint };
    }
    if (rec.thumbprint === thumbprint) return { outcome: "pinned", thumbprint };
    if (await this.isOperatorTrusted(thumbprint)) {
      await this.pin(serverId, url, der, thumbprint);
      return { outcome: "operator-trusted", thumbprint, previous: rec.thumbprint };
    }
    await mkdir(this.rejectedDir, { recursive: true, mode: 0o700 });
    const savedAs = path.join(this.rejectedDir, `${thumbprint}.der`);
    await writeAtomic(savedAs, der);
    throw new CertificateRefusedError(serverId, thumbprint, rec.thumbprint, savedAs, this.trustedDir);
  }
}

/** A short description (subject and validity) of a DER certificate for logs; never throws. */
export function describeCertificate(der: Buffer): { subject?: string; validTo?: string } {
  try {
    const x = new X509Certificate(leafCertificate(der));
    return { subject: x.subject.replace(/\n/g, ", "), validTo: x.validTo };
  } catch {
    return {};
  }
}
