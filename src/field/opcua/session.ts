/**
 * Opens one OPC UA session: endpoint discovery, trust on first use of the server certificate, secure channel,
 * session with the configured identity. Every failure becomes a SessionError whose text is safe to log and to
 * show (it never carries the password).
 */
import { mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import type { ClientSession, EndpointDescription, OPCUACertificateManager, OPCUAClient, UserIdentityInfo } from "node-opcua";
import type { Logger } from "pino";
import type { OpcuaChannelSpec } from "../../config/gateway/model.js";
import { securityPolicyUri, type SecuritySettings } from "./security.js";
import { CertificatePins, CertificateRefusedError, certificateThumbprint, describeCertificate, type TrustDecision } from "./trust.js";
import type { Ua } from "./ua.js";

export const APPLICATION_NAME = "fieldbridge";

export type SessionErrorKind = "network" | "timeout" | "security" | "auth" | "config";

export class SessionError extends Error {
  constructor(
    readonly kind: SessionErrorKind,
    message: string,
  ) {
    super(message);
    this.name = "SessionError";
  }
}

export interface OpenSessionOptions {
  ua: Ua;
  spec: OpcuaChannelSpec;
  security: SecuritySettings;
  pki: ClientPki;
  timeoutMs: number;
  logger: Logger;
}

export interface OpenedSession {
  client: OPCUAClient;
  session: ClientSession;
  trust?: TrustDecision;
}

/** No retries inside node-opcua: the channel owns reconnection, so there is exactly one retry loop. */
const NO_RETRY = { maxRetry: 0, initialDelay: 100, maxDelay: 1000, randomisationFactor: 0 };

export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new SessionError("timeout", `${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** Disconnects without waiting longer than a few seconds and without throwing. */
export async function closeQuietly(client: OPCUAClient, ms = 3000): Promise<void> {
  try {
    await withTimeout(client.disconnect(), ms, "disconnect");
  } catch {
    // the connection is being discarded; nothing useful to do with a failure
  }
}

function statusName(message: string): string | undefined {
  return /\b(Bad[A-Za-z]+)\b/.exec(message)?.[1];
}

function firstLine(text: string, secret: string | undefined): string {
  let line = text.split("\n")[0]!.trim().slice(0, 200).replace(/[\s,;:]+$/, "");
  if (secret) line = line.split(secret).join("[redacted]");
  return line;
}

function networkError(url: string, err: unknown, secret: string | undefined): SessionError {
  if (err instanceof SessionError) return err;
  const msg = (err as Error)?.message ?? String(err);
  if (/ECONNREFUSED/.test(msg)) return new SessionError("network", `cannot connect to ${url}: connection refused`);
  if (/ENOTFOUND|EAI_AGAIN/.test(msg)) return new SessionError("network", `cannot connect to ${url}: host not found`);
  if (/EHOSTUNREACH|ENETUNREACH/.test(msg)) return new SessionError("network", `cannot connect to ${url}: host unreachable`);
  if (/ETIMEDOUT|timed out/i.test(msg)) return new SessionError("timeout", `cannot connect to ${url}: timed out`);
  const status = statusName(msg);
  if (status) return new SessionError("security", `cannot connect to ${url}: ${status}`);
  return new SessionError("network", `cannot connect to ${url}: ${firstLine(msg, secret)}`);
}

/**
 * The client PKI under `<dataDir>/pki`, shared by all channels of the process: one certificate manager, and
 * the client certificate is created once (two channels starting together would otherwise race on the files).
 */
export class ClientPki {
  private static readonly byDir = new Map<string, ClientPki>();
  readonly pins: CertificatePins;
  private ready?: Promise<void>;
  private gate?: Promise<void>;
  private announced = false;

  private constructor(
    readonly dir: string,
    readonly manager: OPCUACertificateManager,
  ) {
    this.pins = new CertificatePins({ pkiDir: dir });
  }

  static for(ua: Ua, dataDir: string): ClientPki {
    const dir = path.join(dataDir, "pki");
    let pki = ClientPki.byDir.get(dir);
    if (!pki) {
      // Unknown certificates are never accepted automatically: server trust is decided by CertificatePins.
      pki = new ClientPki(dir, new ua.OPCUACertificateManager({ rootFolder: dir, automaticallyAcceptUnknownCertificate: false }));
      ClientPki.byDir.set(dir, pki);
    }
    return pki;
  }

  get certificateFile(): string {
    return path.join(this.dir, "own", "certs", "client_certificate.pem");
  }

  async initialize(): Promise<void> {
    this.ready ??= (async () => {
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      await this.manager.initialize();
    })();
    return this.ready;
  }

  /** Runs the first connect attempt of the process alone; node-opcua creates the client certificate in it. */
  async firstUse<T>(fn: () => Promise<T>): Promise<T> {
    if (this.gate) {
      await this.gate;
      return await fn();
    }
    const p = fn();
    this.gate = p.then(
      () => undefined,
      () => undefined,
    );
    return await p;
  }

  /** Logged once per process so that the operator knows which certificate to trust on the servers. */
  async announce(logger: Logger): Promise<void> {
    if (this.announced) return;
    this.announced = true;
    try {
      const pem = await readFile(this.certificateFile, "utf8");
      const der = Buffer.from(pem.replace(/-----[^-]+-----|\s+/g, ""), "base64");
      logger.info(
        { certificate: this.certificateFile, thumbprint: certificateThumbprint(der) },
        "OPC UA client certificate (servers must trust it for Sign and SignAndEncrypt)",
      );
    } catch {
      // the certificate is created by the first connect attempt; a later attempt announces it
      this.announced = false;
    }
  }
}

async function discoverEndpoints(o: OpenSessionOptions): Promise<EndpointDescription[]> {
  const { ua, spec } = o;
  const client = ua.OPCUAClient.create({
    applicationName: APPLICATION_NAME,
    clientName: `${APPLICATION_NAME}-discovery`,
    endpointMustExist: false,
    securityMode: ua.MessageSecurityMode.None,
    securityPolicy: ua.SecurityPolicy.None,
    clientCertificateManager: o.pki.manager,
    connectionStrategy: NO_RETRY,
    defaultTransactionTimeout: o.timeoutMs,
  });
  try {
    await withTimeout(client.connect(spec.url), o.timeoutMs, `connect to ${spec.url}`);
    return await withTimeout(client.getEndpoints(), o.timeoutMs, "GetEndpoints");
  } catch (err) {
    throw networkError(spec.url, err, spec.password);
  } finally {
    await closeQuietly(client);
  }
}

function pickEndpoint(o: OpenSessionOptions, endpoints: EndpointDescription[]): EndpointDescription {
  const { ua, security } = o;
  const mode = ua.MessageSecurityMode[security.mode];
  const uri = securityPolicyUri(security.policy);
  const matching = endpoints.filter((e) => e.securityMode === mode && e.securityPolicyUri === uri);
  if (matching.length === 0) {
    const offered = [...new Set(endpoints.map((e) => `${(e.securityPolicyUri ?? "").split("#")[1] ?? "?"}/${ua.MessageSecurityMode[e.securityMode]}`))];
    throw new SessionError("config", `server offers no ${security.policy}/${security.mode} endpoint (offered: ${offered.join(", ") || "none"})`);
  }
  const wantToken = security.userName !== undefined ? ua.UserTokenType.UserName : ua.UserTokenType.Anonymous;
  const usable = matching.find((e) => (e.userIdentityTokens ?? []).some((t) => t.tokenType === wantToken));
  if (!usable) {
    const who = security.userName !== undefined ? "user name" : "anonymous";
    throw new SessionError("config", `server accepts no ${who} login on its ${security.policy}/${security.mode} endpoint`);
  }
  return usable;
}

async function checkTrust(o: OpenSessionOptions, certificate: Buffer | null | undefined): Promise<TrustDecision> {
  if (!certificate || certificate.length === 0) {
    throw new SessionError("security", "server endpoint carries no certificate");
  }
  let decision: TrustDecision;
  try {
    decision = await o.pki.pins.check(o.spec.serverId, o.spec.url, certificate);
  } catch (err) {
    if (err instanceof CertificateRefusedError) throw new SessionError("security", err.message);
    throw new SessionError("security", `certificate pin store: ${(err as Error).message}`);
  }
  const info = { url: o.spec.url, thumbprint: decision.thumbprint, ...describeCertificate(certificate) };
  if (decision.outcome === "first-use") o.logger.info(info, "server certificate pinned on first use");
  if (decision.outcome === "operator-trusted") {
    o.logger.warn({ ...info, previous: decision.previous }, "server certificate replaced by an operator-trusted certificate");
  }
  return decision;
}

export async function openSession(o: OpenSessionOptions): Promise<OpenedSession> {
  const { ua, spec, security } = o;
  await o.pki.initialize();
  let endpoints: EndpointDescription[];
  try {
    endpoints = await o.pki.firstUse(() => discoverEndpoints(o));
  } finally {
    await o.pki.announce(o.logger);
  }
  const endpoint = pickEndpoint(o, endpoints);
  const trust = security.usesServerCertificate ? await checkTrust(o, endpoint.serverCertificate) : undefined;

  const client = ua.OPCUAClient.create({
    applicationName: APPLICATION_NAME,
    clientName: `${APPLICATION_NAME}-${spec.serverId}`,
    endpointMustExist: false,
    securityMode: ua.MessageSecurityMode[security.mode],
    securityPolicy: ua.SecurityPolicy[security.policy],
    // The pinned certificate is handed over, so node-opcua never fetches and judges one by itself.
    serverCertificate: security.mode !== "None" ? endpoint.serverCertificate : undefined,
    clientCertificateManager: o.pki.manager,
    connectionStrategy: NO_RETRY,
    defaultTransactionTimeout: o.timeoutMs,
    requestedSessionTimeout: Math.max(60_000, 4 * o.timeoutMs),
    keepSessionAlive: false,
  });
  try {
    await withTimeout(client.connect(spec.url), o.timeoutMs, `connect to ${spec.url}`);
  } catch (err) {
    await closeQuietly(client);
    throw networkError(spec.url, err, spec.password);
  }
  let session: ClientSession;
  try {
    const identity: UserIdentityInfo =
      security.userName !== undefined
        ? { type: ua.UserTokenType.UserName, userName: security.userName, password: spec.password ?? "" }
        : { type: ua.UserTokenType.Anonymous };
    session = await withTimeout(client.createSession(identity), o.timeoutMs, "CreateSession");
  } catch (err) {
    await closeQuietly(client);
    if (err instanceof SessionError) throw err;
    const status = statusName((err as Error)?.message ?? "");
    const who = security.userName !== undefined ? `user "${security.userName}"` : "anonymous";
    // BadUserAccessDenied and its kin are named as such; any other failure by its first line, password scrubbed.
    throw new SessionError("auth", `session rejected: ${status ?? firstLine((err as Error)?.message ?? String(err), spec.password)} (${who})`);
  }
  // The session answer carries the server certificate again: it must be the one that was just trusted.
  const sessionCert = session.serverCertificate;
  if (trust && sessionCert && sessionCert.length > 0 && certificateThumbprint(sessionCert) !== trust.thumbprint) {
    await closeQuietly(client);
    throw new SessionError("security", `server certificate in the session (${certificateThumbprint(sessionCert)}) differs from the endpoint's (${trust.thumbprint})`);
  }
  return { client, session, trust };
}
