/**
 * Remote settings (platform-neutral): a settings file offered by the cloud (Alibaba: `thing.config.get` /
 * `thing.config.push`) is downloaded, checked against its digest, validated with the bootstrap schema
 * (config/bootstrap/remote-keys.ts), persisted atomically in `dataDir/remote-settings.json` and applied. Keys the
 * running parts can change (`LIVE_KEYS`) take effect at once; the others are persisted and take effect at the next
 * start, which re-applies the persisted file over the bootstrap file. The bootstrap file stays the fallback: a
 * persisted file that no longer validates is ignored with a warning, and a new file replaces the previous one as a
 * whole (a key it does not name returns to the bootstrap value). A refused file changes nothing.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "pino";
import type { BootstrapConfig } from "../config/bootstrap/load.js";
import { isLiveKey, readKey, validateRemoteSettings, withSettings, type FlatSettings, type LiveKey } from "../config/bootstrap/remote-keys.js";
import { downloadDocument, DownloadError, redactUrl, verifyDigest, writeDataFileAtomic } from "../config/gateway/index.js";
import { parseJson } from "../config/json.js";
import type { ConfigOffer, ConfigOutcome, ConfigStage } from "../cloud/platform.js";

export const REMOTE_SETTINGS_FILE = "remote-settings.json";
/** The platforms' limit for a remote configuration file (alink.md 4.4: 64 KB). */
export const MAX_SETTINGS_BYTES = 64 * 1024;

interface Persisted {
  id: string;
  /** Digest the platform gave for the file (to recognise the same file offered again). */
  digest: string;
  receivedAt: number;
  /** The file as received. */
  settings: unknown;
}

export interface RemoteSettingsStatus {
  /** The platform's id of the applied file (null: none applied; the bootstrap file alone). */
  id: string | null;
  appliedAt: string | null;
  source: "persisted" | "push" | null;
  /** `section.key=value` of every key the file sets. */
  keys: string[];
  /** Keys whose new value waits for the next start. */
  pendingRestart: string[];
  lastError: { at: string; id: string | null; stage: ConfigStage; message: string; problems: string[] } | null;
}

export interface RemoteSettingsOptions {
  bootstrap: BootstrapConfig;
  logger: Logger;
  download: { caFile?: string; allowHttp: boolean; timeoutMs: number };
}

export type LiveAppliers = Record<LiveKey, (value: never) => void>;

export class RemoteSettings {
  /** Bootstrap + the persisted file, as read at start: the config the daemon's parts are built from. */
  readonly effective: BootstrapConfig;
  private running: BootstrapConfig;
  private current: (Persisted & { source: "persisted" | "push"; appliedAt: number; flat: FlatSettings }) | undefined;
  private lastError: { at: number; id: string | null; offer: string; stage: ConfigStage; message: string; problems: string[] } | undefined;
  private appliers: Partial<LiveAppliers> = {};
  private chain: Promise<unknown> = Promise.resolve();
  private readonly file: string;

  constructor(private readonly o: RemoteSettingsOptions) {
    this.file = join(o.bootstrap.dataDir, REMOTE_SETTINGS_FILE);
    const persisted = this.readPersisted();
    this.effective = persisted ? withSettings(o.bootstrap, persisted.flat) : o.bootstrap;
    this.running = structuredClone(this.effective);
    if (persisted) {
      this.current = { ...persisted, source: "persisted", appliedAt: Date.now() };
      o.logger.info({ id: persisted.id, keys: Object.keys(persisted.flat) }, "remote settings applied over the bootstrap file");
    }
  }

  /** What applies each live key to the running parts (set once they are built). */
  setAppliers(a: Partial<LiveAppliers>): void {
    this.appliers = a;
  }

  private readPersisted(): (Persisted & { flat: FlatSettings }) | undefined {
    let text: string;
    try {
      text = readFileSync(this.file, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") this.o.logger.warn({ file: this.file, err: (err as NodeJS.ErrnoException).code }, "persisted remote settings unreadable; ignored (bootstrap file applies)");
      return undefined;
    }
    const parsed = parseJson(text);
    const p = parsed.ok ? (parsed.value as Partial<Persisted>) : undefined;
    const problems = !parsed.ok ? parsed.problems.map((x) => x.message) : [];
    if (p && (typeof p.id !== "string" || typeof p.digest !== "string" || typeof p.receivedAt !== "number")) problems.push("not a remote settings file");
    const checked = p && !problems.length ? validateRemoteSettings(p.settings, this.o.bootstrap.gateway.platform) : undefined;
    if (checked && !checked.ok) problems.push(...checked.problems.map((x) => `${x.path}: ${x.message}`));
    if (!checked?.ok) {
      this.o.logger.warn({ file: this.file, problems }, "persisted remote settings are not valid; ignored (bootstrap file applies)");
      return undefined;
    }
    return { ...(p as Persisted), flat: checked.settings };
  }

  /** A settings file offered by the platform; offers are serialised. Never rejects. */
  offer(o: ConfigOffer): Promise<ConfigOutcome> {
    const run = this.chain.then(() => this.accept(o));
    this.chain = run.catch(() => undefined);
    return run.catch((err: Error) => this.failed(o, "apply", `applying the remote settings failed: ${err.message}`, []));
  }

  private async accept(o: ConfigOffer): Promise<ConfigOutcome> {
    const id = o.version ?? null;
    if (this.current && id !== null && this.current.id === id && this.current.digest === (o.digest ?? "")) {
      return { ok: true, message: "already applied" };
    }
    // The same refused file offered again (each reconnect asks): refused again without downloading or logging.
    const e = this.lastError;
    if (e && id !== null && e.offer === offerKey(o) && e.stage === "validation") {
      return { ok: false, stage: e.stage, message: e.message, problems: e.problems };
    }
    if (o.size !== undefined && o.size > MAX_SETTINGS_BYTES) {
      return this.failed(o, "validation", `remote settings refused: the file is ${o.size} bytes, at most ${MAX_SETTINGS_BYTES}`, [`$: larger than ${MAX_SETTINGS_BYTES} bytes`]);
    }
    this.o.logger.info({ id, url: redactUrl(o.url) }, "remote settings offered; downloading");
    let bytes: Buffer;
    try {
      bytes = await downloadDocument(o.url, { ...this.o.download, maxBytes: MAX_SETTINGS_BYTES });
    } catch (err) {
      return this.failed(o, "download", err instanceof DownloadError ? err.message : `download failed: ${(err as Error).message}`, []);
    }
    if (o.size !== undefined && bytes.length !== o.size) return this.failed(o, "digest", `size check failed: ${bytes.length} bytes, expected ${o.size}`, []);
    const digest = verifyDigest(bytes, o.digest, o.digestMethod);
    if (!digest.ok) return this.failed(o, "digest", `digest check failed: ${digest.reason}`, []);
    let text: string;
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    } catch {
      return this.failed(o, "validation", "remote settings refused: invalid UTF-8", ["$: invalid UTF-8"]);
    }
    const parsed = parseJson(text);
    if (!parsed.ok) return this.failed(o, "validation", "remote settings refused: not JSON", parsed.problems.map((p) => `$: ${p.message}`));
    const checked = validateRemoteSettings(parsed.value, this.o.bootstrap.gateway.platform);
    if (!checked.ok) {
      const problems = checked.problems.map((p) => `${p.path}: ${p.message}`);
      return this.failed(o, "validation", `remote settings refused: ${problems.join("; ")}`, problems);
    }
    const record: Persisted = { id: id ?? "", digest: o.digest ?? "", receivedAt: Date.now(), settings: parsed.value };
    try {
      await writeDataFileAtomic(this.o.bootstrap.dataDir, REMOTE_SETTINGS_FILE, Buffer.from(JSON.stringify(record, null, 2)));
    } catch (err) {
      return this.failed(o, "apply", `the remote settings cannot be persisted: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, []);
    }
    const { applied, pending } = this.apply(checked.settings);
    this.current = { ...record, source: "push", appliedAt: Date.now(), flat: checked.settings };
    this.lastError = undefined;
    this.o.logger.info({ id, applied, pendingRestart: pending }, "remote settings applied");
    for (const key of pending) this.o.logger.warn({ key, value: readKey(withSettings(this.o.bootstrap, checked.settings), key) }, `remote setting ${key} takes effect at the next start`);
    return { ok: true, message: `applied: ${applied.join(", ") || "none"}; at the next start: ${pending.join(", ") || "none"}` };
  }

  /** Applies the live keys whose value changes; returns them and the keys that wait for a restart. */
  private apply(settings: FlatSettings): { applied: string[]; pending: string[] } {
    const next = withSettings(this.o.bootstrap, settings);
    const applied: string[] = [];
    for (const key of this.changedKeys(this.running, next)) {
      if (!isLiveKey(key)) continue;
      const fn = this.appliers[key] as ((v: unknown) => void) | undefined;
      if (!fn) continue;
      fn(readKey(next, key));
      const [s, k] = key.split(".") as [string, string];
      (this.running as unknown as Record<string, Record<string, unknown>>)[s]![k] = readKey(next, key);
      applied.push(key);
    }
    return { applied, pending: this.pendingIn(next) };
  }

  /** Keys of `next` that differ from what runs (a live key without an applier counts as pending). */
  private pendingIn(next: BootstrapConfig): string[] {
    return this.changedKeys(this.running, next).filter((k) => !isLiveKey(k) || !this.appliers[k]);
  }

  private changedKeys(a: BootstrapConfig, b: BootstrapConfig): string[] {
    const out: string[] = [];
    for (const s of ["store", "field", "uplink", "telemetry", "log"]) {
      const sa = (a as unknown as Record<string, Record<string, unknown>>)[s] ?? {};
      const sb = (b as unknown as Record<string, Record<string, unknown>>)[s] ?? {};
      for (const k of new Set([...Object.keys(sa), ...Object.keys(sb)])) if (sa[k] !== sb[k]) out.push(`${s}.${k}`);
    }
    return out;
  }

  private failed(o: ConfigOffer, stage: ConfigStage, message: string, problems: string[]): ConfigOutcome {
    this.lastError = { at: Date.now(), id: o.version ?? null, offer: offerKey(o), stage, message, problems };
    this.o.logger.error({ id: o.version ?? null, stage, problems }, message);
    return { ok: false, stage, message, problems };
  }

  status(): RemoteSettingsStatus {
    const c = this.current;
    const iso = (ms: number) => new Date(ms).toISOString();
    return {
      id: c?.id ?? null,
      appliedAt: c ? iso(c.appliedAt) : null,
      source: c?.source ?? null,
      keys: c ? Object.entries(c.flat).map(([k, v]) => `${k}=${String(v)}`) : [],
      pendingRestart: c ? this.pendingIn(withSettings(this.o.bootstrap, c.flat)) : [],
      lastError: this.lastError
        ? { at: iso(this.lastError.at), id: this.lastError.id, stage: this.lastError.stage, message: this.lastError.message, problems: this.lastError.problems }
        : null,
    };
  }
}

/** What identifies one offered file: the platform's id, its digest and its announced size. */
function offerKey(o: ConfigOffer): string {
  return JSON.stringify([o.version ?? null, o.digest ?? "", o.size ?? null]);
}
