/** Classification of SQLite failures: which ones mean "this file is unusable" and which mean "the disk refuses writes". */

/** Thrown when a database opens but must not be used (failed integrity check, schema from a newer build). */
export class UnusableDatabaseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UnusableDatabaseError";
  }
}

export function sqliteCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/** The file is damaged or not a database at all: moving it aside is the only way forward. */
export function isCorruption(err: unknown): boolean {
  if (err instanceof UnusableDatabaseError) return true;
  const code = sqliteCode(err);
  return code !== undefined && (code === "SQLITE_NOTADB" || code.startsWith("SQLITE_CORRUPT"));
}

/**
 * The disk is full, read-only or failing. These are conditions of the machine, not of the data: the caller keeps
 * running and tries again later.
 */
export function isWriteFailure(err: unknown): boolean {
  const code = sqliteCode(err);
  if (code === undefined) return false;
  return (
    code.startsWith("SQLITE_FULL") ||
    code.startsWith("SQLITE_IOERR") ||
    code.startsWith("SQLITE_READONLY") ||
    code.startsWith("SQLITE_CANTOPEN") ||
    code.startsWith("SQLITE_PERM") ||
    code === "ENOSPC" ||
    code === "EROFS"
  );
}

/** A short description for logs: the SQLite code and message, never bound values (SQLite does not echo them). */
export function describeError(err: unknown): { code?: string; message: string } {
  const code = sqliteCode(err);
  const message = err instanceof Error ? err.message.split("\n")[0]! : String(err);
  return code === undefined ? { message } : { code, message };
}
