/** The one test for "a JSON object" (not null, not an array) used wherever untrusted JSON is read. */
export function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

const quotedCache = new Map<string, string>();
/** Distinct strings kept; beyond this the cache starts over (identifiers of thing models are far fewer). */
const QUOTED_MAX = 20_000;

/**
 * `JSON.stringify(s)` for the identifiers written with every value: the same few strings over and over, so each is
 * quoted once and the quoted form reused instead of a new string per value.
 */
export function quotedJson(s: string): string {
  let q = quotedCache.get(s);
  if (q === undefined) {
    if (quotedCache.size >= QUOTED_MAX) quotedCache.clear();
    quotedCache.set(s, (q = JSON.stringify(s)));
  }
  return q;
}
