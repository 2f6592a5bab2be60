/**
 * thing.model.config.push (alink.md sections 3.15 and 5.1): the push names the document's URL and digest; the core
 * downloads, checks, validates, applies and persists it; the reply carries 200, 460 (request, digest or validation),
 * 100010 (download) or 100000 (apply), and echoes the push's url, digest and digest method.
 */
import type { Core, ConfigStage } from "../platform.js";
import type { AlinkMessage } from "./connection.js";

/** Reply code of a failed stage (alink.md 3.21): 460 for the request, digest and validation, 1000xx for the rest. */
export const CONFIG_STAGE_CODES: Record<ConfigStage, number> = { request: 460, digest: 460, validation: 460, download: 100010, apply: 100000 };

export type PushReply = (code: number, data: unknown, message?: string) => Promise<void>;

export async function handleConfigPush(msg: AlinkMessage | null, core: Core, reply: PushReply): Promise<void> {
  const body = (msg?.["data"] ?? msg?.["params"]) as Record<string, unknown> | undefined;
  const echo = body && typeof body === "object" ? { digest: body["digest"] ?? "", digestMethod: body["digestMethod"] ?? "", url: body["url"] ?? "" } : {};
  if (msg && msg["method"] !== undefined && msg["method"] !== "thing.model.config.push") {
    core.logger.info({ method: msg["method"] }, "config push with an unexpected method name; handled by its topic");
  }
  const url = body && typeof body === "object" && typeof body["url"] === "string" ? body["url"] : "";
  if (!url) {
    core.rejectConfig("request", "config push without a url");
    return reply(460, echo, "data.url is required");
  }
  const digest = typeof body?.["digest"] === "string" ? (body["digest"] as string) : undefined;
  const digestMethod = typeof body?.["digestMethod"] === "string" ? (body["digestMethod"] as string) : undefined;
  const out = await core.offerConfig({ url, ...(digest !== undefined ? { digest } : {}), ...(digestMethod !== undefined ? { digestMethod } : {}) });
  if (out.ok) return reply(200, echo, out.message);
  return reply(CONFIG_STAGE_CODES[out.stage], echo, out.stage === "apply" ? "apply failed" : out.message);
}
