/** Assertions on the FieldError a driver answers a refused write or call with. */
import assert from "node:assert/strict";
import { FieldError, type FieldFailure } from "../../src/field/driver.js";

function isFieldError(err: unknown, code: FieldFailure, pattern?: RegExp): true {
  assert.ok(err instanceof FieldError, `expected FieldError, got ${String(err)}`);
  assert.equal(err.code, code, err.message);
  if (pattern) assert.match(err.message, pattern);
  return true;
}

/** `p` rejects with a FieldError of `code` whose message matches `pattern` if given. */
export async function rejectsFieldError(p: Promise<unknown>, code: FieldFailure, pattern?: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => isFieldError(err, code, pattern));
}

/** `fn` throws a FieldError of `code` whose message matches `pattern` if given. */
export function throwsFieldError(fn: () => unknown, code: FieldFailure, pattern?: RegExp): void {
  assert.throws(fn, (err: unknown) => isFieldError(err, code, pattern));
}
