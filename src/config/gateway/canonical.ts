/** Canonical JSON: object keys sorted at every depth, `undefined` members dropped, so equal data gives equal text. */

export function canonicalJson(value: unknown): string {
  return write(value) ?? "null";
}

// Specs repeat the same few dozen keys many times over; quote each once.
const quoted = new Map<string, string>();
function quote(key: string): string {
  let q = quoted.get(key);
  if (q === undefined) {
    q = JSON.stringify(key);
    if (quoted.size < 10_000) quoted.set(key, q);
  }
  return q;
}

/** Like JSON.stringify (undefined for what JSON drops), but with sorted keys. */
function write(value: unknown): string | undefined {
  if (value === null) return "null";
  switch (typeof value) {
    case "string":
    case "boolean":
      return JSON.stringify(value);
    case "number":
      return Number.isFinite(value) ? String(value) : "null";
    case "object": {
      const toJSON = (value as { toJSON?: () => unknown }).toJSON;
      if (typeof toJSON === "function") return write(toJSON.call(value));
      if (Array.isArray(value)) {
        let out = "[";
        for (let i = 0; i < value.length; i++) out += (i ? "," : "") + (write(value[i]) ?? "null");
        return out + "]";
      }
      const keys = Object.keys(value).sort();
      let out = "{";
      let first = true;
      for (const key of keys) {
        const text = write((value as Record<string, unknown>)[key]);
        if (text === undefined) continue;
        out += (first ? "" : ",") + quote(key) + ":" + text;
        first = false;
      }
      return out + "}";
    }
    default:
      // undefined, functions and symbols are dropped as JSON.stringify does; a bigint is written as a number
      return typeof value === "bigint" ? value.toString() : undefined;
  }
}
