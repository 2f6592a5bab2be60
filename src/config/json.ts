/**
 * The JSON reader of every config the gateway takes in: the bootstrap file and pushed gateway config
 * documents. JSON.parse alone silently keeps the last of two equal keys (so `"port"` given twice, or
 * two `gateway` sections, would run with whichever came last), and a document nested tens of thousands
 * of levels deep parses fine but then overflows the stack of every recursive step after it (cloning,
 * schema validation, logging). A linear scan first bounds the depth and finds duplicate keys; only a
 * document that passes it is handed to JSON.parse, which does the real parsing and the syntax errors.
 */

export type JsonPath = Array<string | number>;

export interface JsonProblem {
  /** Where: [] for the document itself, else keys and array indexes from the top. */
  path: JsonPath;
  message: string;
}

export type JsonResult = { ok: true; value: unknown } | { ok: false; problems: JsonProblem[] };

/** Deep enough for any config the gateway reads (a gateway config document nests about a dozen levels). */
export const MAX_JSON_DEPTH = 64;

export interface JsonLimits {
  maxDepth?: number;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;

/** Small objects keep their keys in an array (cheaper than a Set to create and search), large ones in a Set. */
const SMALL_OBJECT_KEYS = 16;
type KeySet = string[] | Set<string>;

/** Adds `key`; false when it was there already. */
function addKey(keys: KeySet, key: string): boolean {
  if (Array.isArray(keys)) {
    if (keys.includes(key)) return false;
    keys.push(key);
    return true;
  }
  if (keys.has(key)) return false;
  keys.add(key);
  return true;
}

export function depthMessage(maxDepth: number): string {
  return `nested deeper than ${maxDepth} levels`;
}

/** Parses `text`, refusing duplicate keys and nesting deeper than `maxDepth` containers. Never throws. */
export function parseJson(text: string, limits: JsonLimits = {}): JsonResult {
  const maxDepth = limits.maxDepth ?? MAX_JSON_DEPTH;
  const scan = scanJson(text, maxDepth);
  if (scan === "too deep") return { ok: false, problems: [{ path: [], message: depthMessage(maxDepth) }] };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    // A broken document can fool the scanner into seeing duplicates: the syntax error is the real problem.
    return { ok: false, problems: [{ path: [], message: `invalid JSON: ${jsonErrorText((err as Error).message, text)}` }] };
  }
  if (scan.length > 0) {
    // A key given three times is one problem.
    const seen = new Set<string>();
    const problems = scan.filter((p) => {
      const id = JSON.stringify(p.path);
      return seen.has(id) ? false : (seen.add(id), true);
    });
    return { ok: false, problems };
  }
  return { ok: true, value };
}

/**
 * One pass over the text: strings are skipped with indexOf, structure is tracked on an explicit stack.
 * It does not check the grammar (JSON.parse does); on a malformed text its findings are discarded.
 */
function scanJson(text: string, maxDepth: number): JsonProblem[] | "too deep" {
  const problems: JsonProblem[] = [];
  // The open containers, as parallel stacks: keys seen (undefined for an array), the current member
  // (last key or element index), and whether the next string of an object is a key.
  const keys: Array<KeySet | undefined> = [];
  const at: Array<string | number> = [];
  const expectKey: boolean[] = [];
  let depth = 0;
  // Jumps from one structural character to the next: whitespace, numbers and literals are skipped by the
  // regex engine, and test() (unlike exec) allocates nothing per match.
  const structural = /["{}[\],]/g;
  while (structural.test(text)) {
    const i = structural.lastIndex - 1;
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const end = stringEnd(text, i);
      if (end < 0) break;
      const top = depth - 1;
      if (top >= 0 && expectKey[top]) {
        const key = decodeKey(text.slice(i + 1, end));
        let set = keys[top]!;
        if (Array.isArray(set) && set.length >= SMALL_OBJECT_KEYS) set = keys[top] = new Set(set);
        if (!addKey(set, key)) problems.push({ path: [...at.slice(0, top), key], message: "duplicate key" });
        at[top] = key;
        expectKey[top] = false;
      }
      structural.lastIndex = end + 1;
    } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      if (depth >= maxDepth) return "too deep";
      const object = c === OPEN_OBJECT;
      keys[depth] = object ? [] : undefined;
      at[depth] = object ? "" : 0;
      expectKey[depth] = object;
      depth++;
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      if (depth > 0) depth--;
    } else if (depth > 0) {
      // a comma
      const top = depth - 1;
      if (keys[top]) expectKey[top] = true;
      else at[top] = (at[top] as number) + 1;
    }
  }
  return problems;
}

/** Index of the quote that closes the string opening at `start`, or -1. */
function stringEnd(text: string, start: number): number {
  let from = start + 1;
  for (;;) {
    const q = text.indexOf('"', from);
    if (q < 0) return -1;
    let backslashes = 0;
    for (let b = q - 1; text.charCodeAt(b) === BACKSLASH; b--) backslashes++;
    if (backslashes % 2 === 0) return q;
    from = q + 1;
  }
}

/** `"\u0061"` and `"a"` are the same key. */
function decodeKey(raw: string): string {
  if (!raw.includes("\\")) return raw;
  try {
    return JSON.parse(`"${raw}"`) as string;
  } catch {
    return raw;
  }
}

/** True when `value` has more than `maxDepth` nested arrays/objects. Iterative: safe on any depth. */
export function nestedDeeperThan(value: unknown, maxDepth: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== "object") continue;
    if (depth + 1 > maxDepth) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (child !== null && typeof child === "object") stack.push([child, depth + 1]);
    }
  }
  return false;
}

/**
 * V8's message without its quote of the document (which may hold secrets: a DeviceSecret, encrypted
 * passwords), plus line and column.
 */
export function jsonErrorText(message: string, text: string): string {
  const position = /at position (\d+)/.exec(message);
  let reason = message
    .replace(/,\s*".*" is not valid JSON$/s, "")
    .replace(/\s*(?:in JSON )?at position \d+.*$/s, "")
    .replace(/\s*\(line \d+ column \d+\)$/, "");
  if (reason.startsWith("Unexpected token") && /".*" is not valid JSON/s.test(message)) reason = reason.replace(/,.*$/s, "");
  if (!position) return reason;
  const before = text.slice(0, Number(position[1]));
  const line = before.split("\n").length;
  const column = before.length - before.lastIndexOf("\n");
  return `${reason} at line ${line} column ${column}`;
}
