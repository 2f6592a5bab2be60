/** Canonical JSON: object keys sorted at every depth, `undefined` members dropped, so equal data gives equal text. */

export function canonicalJson(value: unknown): string {
  return write(value) ?? "null";
}

/** Like JSON.stringify (undefined for what JSON drops), but with sorted keys and no intermediate copies. */
function write(value: unknown): string | undefined {
  if (value === null) return "null";
  switch (typeof value) {
    case "string":
    case "boolean":
      return JSON.stringify(value);
    case "number":
      return Number.isFinite(value) ? String(value) : "null";
    case "bigint":
      return value.toString();
    case "object": {
      const toJSON = (value as { toJSON?: () => unknown }).toJSON;
      if (typeof toJSON === "function") return write(toJSON.call(value));
      if (Array.isArray(value)) return `[${value.map((v) => write(v) ?? "null").join(",")}]`;
      const parts: string[] = [];
      for (const key of Object.keys(value).sort()) {
        const text = write((value as Record<string, unknown>)[key]);
        if (text !== undefined) parts.push(`${JSON.stringify(key)}:${text}`);
      }
      return `{${parts.join(",")}}`;
    }
    default:
      return undefined;
  }
}
