/**
 * The gateway config pipeline (alink.md section 5): download → verify digest → parse and validate →
 * decrypt → diff against the running config → persist the document as the last good config.
 */
import { parseJson } from "../json.js";
import { parseGatewayConfig, type ParseContext, type ParseResult, emptyGatewayConfig } from "./parse.js";
import { ProblemLog } from "./problems.js";

export { parseGatewayConfig, emptyGatewayConfig, hasErrors, type ParseContext, type ParseResult, type DocumentSections, type DocumentProblem } from "./parse.js";
export { formatProblem, type Problem, type Severity } from "./problems.js";
export { decryptOpcuaPassword, encryptOpcuaPassword, CredentialError } from "./crypto.js";
export { verifyDigest, digestAlgorithm, type DigestResult } from "./digest.js";
export {
  diffGatewayConfig,
  summarizeDiff,
  type GatewayConfigDiff,
  type ChannelChange,
  type DeviceChange,
  type ChangeKind,
  type DeviceChangeReason,
} from "./diff.js";
export { describeGatewayConfig } from "./describe.js";
export { downloadDocument, redactUrl, DownloadError, type DownloadOptions, type DownloadFailure } from "./download.js";
export { writeGatewayConfigAtomic, readPersisted, gatewayConfigPath, GATEWAY_CONFIG_FILE } from "./persist.js";
export { canonicalJson } from "./canonical.js";
export * from "./model.js";

/**
 * The largest document read. Above any sensible config (the download limit, download.maxBytes, is
 * 16 MiB by default), and a bound on the work a hostile one can cause before anything is parsed.
 */
export const MAX_DOCUMENT_BYTES = 64 * 1024 * 1024;

/**
 * Bytes of a downloaded (or persisted) document → config and problems. Bad UTF-8 or JSON, a duplicate
 * key, nesting deeper than MAX_JSON_DEPTH and a document above MAX_DOCUMENT_BYTES are fatal.
 */
export function loadGatewayDocument(bytes: Uint8Array, ctx: ParseContext): ParseResult {
  const log = new ProblemLog();
  if (bytes.length > MAX_DOCUMENT_BYTES) {
    log.error([], `the document is ${bytes.length} bytes; at most ${MAX_DOCUMENT_BYTES} are accepted`);
    return fatal(log);
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    log.error([], "invalid UTF-8");
    return fatal(log);
  }
  const parsed = parseJson(text);
  if (!parsed.ok) {
    for (const p of parsed.problems) log.error(p.path, p.message);
    return fatal(log);
  }
  return parseGatewayConfig(parsed.value, ctx);
}

function fatal(log: ProblemLog): ParseResult {
  return { config: emptyGatewayConfig(), problems: log.problems(), fatal: true };
}
