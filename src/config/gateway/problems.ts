/**
 * Problems found in a gateway config document, addressed by a JSON path such as
 * `deviceList[2].deviceConfig.serverId`. Every problem is collected; none stops the parse early.
 */

export type Severity = "error" | "warning";

export interface Problem {
  /** `$` for the document itself, else e.g. `serverList[1].url`. */
  path: string;
  message: string;
  severity: Severity;
}

export type PathSegment = string | number;
export type Path = readonly PathSegment[];

/** The order of the sections in the document; problems are reported in this order. */
export const SECTIONS = ["modelList", "serverList", "deviceList", "tslList"] as const;
export type Section = (typeof SECTIONS)[number];

const PLAIN_KEY = /^[A-Za-z_$][\w$]*$/;

export function formatPath(path: Path): string {
  if (path.length === 0) return "$";
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else if (seg.length <= QUOTE_MAX && PLAIN_KEY.test(seg)) out += out === "" ? seg : `.${seg}`;
    else out += `[${clipQuoted(JSON.stringify(seg))}]`;
  }
  return out;
}

/** Characters of a value quoted in a problem; a document's 1 MB string must not come back whole. */
export const QUOTE_MAX = 200;

const isSpace = (c: string): boolean => c === " " || c === "\n" || c === "\t" || c === "\r";

/**
 * Clips every value a message quotes to QUOTE_MAX characters and states the full length:
 * `"AAAA…" (1048576 characters)`. A quoted value is a JSON string (`"…"`, escapes counted as the one
 * character they stand for); an unquoted value (`got <value>`) is a run without spaces.
 */
export function clipQuoted(message: string): string {
  if (message.length <= QUOTE_MAX) return message;
  let out = "";
  let i = 0;
  const n = message.length;
  while (i < n) {
    if (message[i] === '"') {
      // Walk the string: count decoded characters, note where the QUOTE_MAX-th one ends.
      let j = i + 1;
      let chars = 0;
      let cut = -1;
      while (j < n && message[j] !== '"') {
        j += message[j] === "\\" ? (message[j + 1] === "u" ? 6 : 2) : 1;
        chars++;
        if (chars === QUOTE_MAX) cut = j;
      }
      if (j >= n) {
        // No closing quote: the rest is a run of its own.
        out += clipRun(message.slice(i));
        break;
      }
      out += chars > QUOTE_MAX ? `${message.slice(i, cut)}…" (${chars} characters)` : message.slice(i, j + 1);
      i = j + 1;
    } else {
      let j = i;
      while (j < n && message[j] !== '"' && !isSpace(message[j]!)) j++;
      if (j === i) {
        out += message[i];
        i++;
      } else {
        out += clipRun(message.slice(i, j));
        i = j;
      }
    }
  }
  return out;
}

function clipRun(run: string): string {
  return run.length > QUOTE_MAX ? `${run.slice(0, QUOTE_MAX)}… (${run.length} characters)` : run;
}

/** `problem.path: message`, the line format of `fieldbridge check` and of the logs. */
export function formatProblem(p: Problem): string {
  return `${p.path}: ${p.message}`;
}

interface Entry {
  path: Path;
  problem: Problem;
  seq: number;
}

function sectionRank(path: Path): number {
  const i = SECTIONS.indexOf(path[0] as Section);
  return i < 0 ? (path.length === 0 ? -1 : SECTIONS.length) : i;
}

/** A key per path that cannot collide between `a.b` and `a["b"]`. */
const keyOf = (path: Path): string => JSON.stringify(path);

/** Collects problems; lets the parser ask whether an item (a path prefix) has any error. */
export class ProblemLog {
  private readonly entries: Entry[] = [];
  private readonly seen = new Set<string>();
  private readonly errorAt = new Set<string>();
  private readonly errorUnder = new Set<string>();

  error(path: Path, message: string): void {
    this.add(path, message, "error");
  }

  warning(path: Path, message: string): void {
    this.add(path, message, "warning");
  }

  /** True when an error was recorded at `prefix` or anywhere below it. */
  hasErrorUnder(prefix: Path): boolean {
    return this.errorUnder.has(keyOf(prefix));
  }

  /** True when an error was recorded exactly at `path` (not below it). */
  hasErrorAt(path: Path): boolean {
    return this.errorAt.has(keyOf(path));
  }

  /** Sorted by section (document order), then by item index; otherwise in the order found. */
  problems(): Problem[] {
    return [...this.entries]
      .sort((a, b) => {
        const r = sectionRank(a.path) - sectionRank(b.path);
        if (r !== 0) return r;
        const ia = typeof a.path[1] === "number" ? a.path[1] : -1;
        const ib = typeof b.path[1] === "number" ? b.path[1] : -1;
        return ia !== ib ? ia - ib : a.seq - b.seq;
      })
      .map((e) => e.problem);
  }

  private add(path: Path, message: string, severity: Severity): void {
    const copy = [...path];
    const problem = { path: formatPath(copy), message: clipQuoted(message), severity };
    const id = `${problem.path}\u0000${message}`;
    if (this.seen.has(id)) return;
    this.seen.add(id);
    this.entries.push({ path: copy, problem, seq: this.entries.length });
    if (severity === "error") {
      this.errorAt.add(keyOf(copy));
      for (let n = 0; n <= copy.length; n++) this.errorUnder.add(keyOf(copy.slice(0, n)));
    }
  }
}
