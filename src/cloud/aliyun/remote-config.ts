/**
 * Remote configuration (alink.md 3.20): `thing.config.get` after every CONNACK (at start and after each
 * reconnect) and `thing.config.push` from the console. The file is the gateway's remote settings; the core
 * downloads, checks (SHA-256 `sign`), validates, persists and applies it (Core.offerSettings). Replies: 200, 460 for
 * a malformed push, a sign mismatch or a refused file, 100010 when the download failed, 100000 when applying failed.
 * Get replies: 6710 (no configuration: nothing to apply), 6713 (the product's remote configuration is off: not asked
 * again until the next start, logged once).
 */
import type { Logger } from "pino";
import type { ConfigOffer, Core } from "../platform.js";
import { AlinkRequestError, type AlinkConnection, type AlinkMessage } from "./connection.js";
import { CONFIG_STAGE_CODES } from "./config-push.js";
import { isObject } from "../../core/json.js";
import { replyTopic, topics, type Identity } from "./topics.js";

export class RemoteConfig {
  /** 6713: the product has remote configuration switched off. */
  private disabled = false;
  readonly counters = { gets: 0, pushes: 0, applied: 0, refused: 0 };

  constructor(
    private readonly link: AlinkConnection,
    private readonly gateway: Identity,
    private readonly core: Core,
    private readonly logger: Logger,
  ) {
    link.on("connected", () => void this.get());
  }

  /** Whether the core takes settings files at all (a test double may not). */
  private get supported(): boolean {
    return this.core.offerSettings !== undefined;
  }

  /** Asks for the product's configuration file and applies it. Never throws. */
  async get(): Promise<void> {
    if (this.disabled || !this.supported) return;
    this.counters.gets++;
    let reply;
    try {
      reply = await this.link.request(topics.remoteConfigGet(this.gateway), {
        version: "1.0", params: { configScope: "product", getType: "file" }, method: "thing.config.get",
      });
    } catch (err) {
      const kind = err instanceof AlinkRequestError ? err.kind : "publish";
      this.logger.debug({ kind, err: (err as Error).message }, "remote configuration not asked for now (asked again at the next connect)");
      return;
    }
    if (reply.code === 6710) {
      this.logger.info("no remote configuration for this product");
      return;
    }
    if (reply.code === 6713) {
      this.disabled = true;
      this.logger.warn("remote configuration is not enabled for this product (console: remote configuration); not asked again until restart");
      return;
    }
    if (reply.code !== 200) {
      this.logger.warn({ code: reply.code, message: reply.message }, "remote configuration request refused");
      return;
    }
    const offer = offerOf(reply.data);
    if ("error" in offer) {
      this.logger.warn({ problem: offer.error }, "remote configuration answer is malformed; ignored");
      return;
    }
    await this.offer(offer);
  }

  /** `thing.config.push` (on the gateway's topic). */
  async push(topic: string, msg: AlinkMessage | null): Promise<void> {
    this.counters.pushes++;
    const reply = (code: number, message?: string) => this.link.reply(replyTopic(topic), msg?.["id"], code, {}, message);
    if (!msg || msg["id"] === undefined) {
      this.logger.warn("malformed remote configuration push (not an Alink request); ignored");
      return;
    }
    if (!this.supported) return reply(100005, "remote configuration is not supported");
    const offer = offerOf(msg["params"]);
    if ("error" in offer) {
      this.counters.refused++;
      this.logger.warn({ problem: offer.error }, "remote configuration push refused (460)");
      return reply(460, offer.error);
    }
    const out = await this.offer(offer);
    return out.ok ? reply(200) : reply(CONFIG_STAGE_CODES[out.stage], out.message);
  }

  private async offer(o: ConfigOffer): Promise<{ ok: true } | { ok: false; stage: keyof typeof CONFIG_STAGE_CODES; message: string }> {
    const out = await this.core.offerSettings!(o);
    if (out.ok) {
      this.counters.applied++;
      return { ok: true };
    }
    this.counters.refused++;
    return { ok: false, stage: out.stage, message: out.stage === "apply" ? "apply failed" : out.message };
  }

  status(): { disabled: boolean } & RemoteConfig["counters"] {
    return { disabled: this.disabled, ...this.counters };
  }
}

/** The file's description in a get reply's `data` or a push's `params` → an offer, or what is wrong with it. */
function offerOf(body: unknown): ConfigOffer | { error: string } {
  if (!isObject(body)) return { error: "params must be an object" };
  const { configId, configSize, sign, signMethod, url, getType } = body as Record<string, unknown>;
  if (typeof url !== "string" || url === "") return { error: "url is required" };
  if (typeof configId !== "string" || configId === "") return { error: "configId is required" };
  if (typeof sign !== "string" || sign === "") return { error: "sign is required" };
  // The platform signs with SHA-256 only (alink.md 3.20).
  if (typeof signMethod !== "string" || signMethod.toLowerCase().replace(/[-_]/g, "") !== "sha256") return { error: "signMethod must be Sha256" };
  if (getType !== undefined && getType !== "file") return { error: "getType must be file" };
  if (configSize !== undefined && (typeof configSize !== "number" || !Number.isInteger(configSize) || configSize < 0)) return { error: "configSize must be a byte count" };
  return { url, version: configId, digest: sign, digestMethod: "sha256", ...(typeof configSize === "number" ? { size: configSize } : {}) };
}
