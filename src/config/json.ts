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
const COMMA = 0x2c;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;

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
  if (scan.length > 0) return { ok: false, problems: scan };
  return { ok: true, value };
}

/**
 * Keys of small objects are compared in place (positions in the text, no string made); an object with
 * many keys, or with an escaped key, switches to a Set of decoded keys so that no input is quadratic.
 */
const SMALL_OBJECT_KEYS = 16;
/** A document full of duplicates is refused all the same; listing every one would only flood the log. */
const MAX_DUPLICATES_LISTED = 100;

function hasBackslash(text: string, start: number, end: number): boolean {
  for (let k = start; k < end; k++) if (text.charCodeAt(k) === BACKSLASH) return true;
  return false;
}

function sameRaw(text: string, a: number, aEnd: number, b: number, bEnd: number): boolean {
  if (aEnd - a !== bEnd - b) return false;
  for (let k = 0; k < aEnd - a; k++) if (text.charCodeAt(a + k) !== text.charCodeAt(b + k)) return false;
  return true;
}

/**
 * One pass over the text: strings are skipped with indexOf, structure is tracked on explicit stacks.
 * It does not check the grammar (JSON.parse does); on a malformed text its findings are discarded.
 */
function scanJson(text: string, maxDepth: number): JsonProblem[] | "too deep" {
  const problems: JsonProblem[] = [];
  const reported = new Set<string>();
  // Per open container: whether it is an object, the next string is a key, the element index (arrays),
  // where its keys start in the shared key stack, and its Set once it has one.
  const isObject: boolean[] = [];
  const expectKey: boolean[] = [];
  const index: number[] = [];
  const keyBase: number[] = [];
  const keySet: Array<Set<string> | undefined> = [];
  // The keys of all open objects, innermost last, as [start, end) of their raw text.
  const keyStart: number[] = [];
  const keyEnd: number[] = [];
  let keys = 0;
  let depth = 0;

  const keyText = (k: number): string => decodeKey(text.slice(keyStart[k]!, keyEnd[k]!));
  /** Path of the container at `level`: each open container's current member. */
  const pathTo = (level: number): JsonPath => {
    const path: JsonPath = [];
    for (let d = 0; d < level; d++) {
      // An object's current member is its last key: the one just before its child's keys.
      const last = keyBase[d + 1]! - 1;
      path.push(isObject[d] ? (last >= keyBase[d]! ? keyText(last) : "") : index[d]!);
    }
    return path;
  };

  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const end = stringEnd(text, i);
      if (end < 0) break;
      const top = depth - 1;
      if (top >= 0 && expectKey[top]) {
        expectKey[top] = false;
        const start = i + 1;
        const base = keyBase[top]!;
        let set = keySet[top];
        if (!set && (keys - base >= SMALL_OBJECT_KEYS || hasBackslash(text, start, end))) {
          set = keySet[top] = new Set();
          for (let k = base; k < keys; k++) set.add(keyText(k));
        }
        let duplicate = false;
        if (set) {
          const key = decodeKey(text.slice(start, end));
          duplicate = set.has(key);
          set.add(key);
        } else {
          for (let k = base; k < keys && !duplicate; k++) duplicate = sameRaw(text, keyStart[k]!, keyEnd[k]!, start, end);
        }
        keyStart[keys] = start;
        keyEnd[keys] = end;
        keys++;
        if (duplicate && reported.size <= MAX_DUPLICATES_LISTED) {
          // A key given three times is one problem.
          const path = [...pathTo(top), decodeKey(text.slice(start, end))];
          const id = JSON.stringify(path);
          if (!reported.has(id)) {
            reported.add(id);
            if (reported.size <= MAX_DUPLICATES_LISTED) problems.push({ path, message: "duplicate key" });
            else problems.push({ path: [], message: `more than ${MAX_DUPLICATES_LISTED} duplicate keys; the rest are not listed` });
          }
        }
      }
      i = end;
    } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      if (depth >= maxDepth) return "too deep";
      isObject[depth] = c === OPEN_OBJECT;
      expectKey[depth] = c === OPEN_OBJECT;
      index[depth] = 0;
      keyBase[depth] = keys;
      keySet[depth] = undefined;
      depth++;
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      if (depth > 0) {
        depth--;
        keys = keyBase[depth]!;
        keySet[depth] = undefined;
      }
    } else if (c === COMMA && depth > 0) {
      const top = depth - 1;
      if (isObject[top]) expectKey[top] = true;
      else index[top]!++;
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
