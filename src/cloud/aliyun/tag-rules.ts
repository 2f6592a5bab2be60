/**
 * The platform's rules for device tags (alink.md 3.17, 4.4, 4.5, P33), without dependencies: the bootstrap part
 * (`check`) and the tag sender both use them.
 */
export const TAG_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;
export const MAX_TAG_KEY_BYTES = 100;
/** alink.md P33: the seed sets no value rule; the platform's console rule is 128 characters. */
export const MAX_TAG_VALUE_CHARS = 128;
export const MAX_TAGS_PER_MESSAGE = 200;

export type Tags = Record<string, string>;

/** Why a tag cannot be sent (undefined: it can). */
export function tagProblem(key: string, value: unknown): string | undefined {
  if (!TAG_KEY.test(key)) return "the key may hold only letters, digits and _, and must not start with a digit";
  if (Buffer.byteLength(key, "utf8") > MAX_TAG_KEY_BYTES) return `the key is longer than ${MAX_TAG_KEY_BYTES} bytes`;
  if (typeof value !== "string") return "the value must be a string";
  if (value.length > MAX_TAG_VALUE_CHARS) return `the value is longer than ${MAX_TAG_VALUE_CHARS} characters`;
  return undefined;
}
