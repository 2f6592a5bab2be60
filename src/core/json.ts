/** The one test for "a JSON object" (not null, not an array) used wherever untrusted JSON is read. */
export function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}
