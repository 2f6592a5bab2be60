/** The one test for "a JSON object" (not null, not an array) used wherever untrusted JSON is read. */
export function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/**
 * Text made from a key, kept so that the same few keys (the identifiers of thing models) give the same string again
 * instead of a new one per value. Bounded: beyond `max` keys it starts over.
 */
export class TextCache<K> {
  private readonly texts = new Map<K, string>();

  constructor(
    private readonly make: (key: K) => string,
    private readonly max = 20_000,
  ) {}

  get(key: K): string {
    let t = this.texts.get(key);
    if (t === undefined) {
      if (this.texts.size >= this.max) this.texts.clear();
      this.texts.set(key, (t = this.make(key)));
    }
    return t;
  }
}
