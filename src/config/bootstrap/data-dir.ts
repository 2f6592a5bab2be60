/**
 * Whether the data dir can be used, found without creating anything (so that `check` sees what `run`
 * would fail on), and the cause named when `run` fails to create or write it: `mkdir -p` below a
 * read-only mount reports ENOENT, which would send an operator looking for a missing directory.
 */
import { accessSync, constants, existsSync, mkdirSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";

const errno = (err: unknown): string | undefined => (err as NodeJS.ErrnoException)?.code;

/**
 * Why `dataDir` cannot be used, or undefined when it exists writable or can be created. Creates nothing.
 * Permissions are left out: `check` is often run by an administrator, not as the service's user (for
 * whom systemd creates the StateDirectory), so only what holds for every user is reported here.
 */
export function dataDirProblem(dataDir: string): string | undefined {
  const found = inspect(dataDir);
  return found && !found.perUser ? found.message : undefined;
}

function inspect(dataDir: string): { message: string; code?: string; perUser?: boolean } | undefined {
  // Walk up to the nearest path that exists: the data dir itself or the ancestor it would be created in.
  let at = dataDir;
  for (;;) {
    let isDir: boolean;
    try {
      isDir = statSync(at).isDirectory();
    } catch (err) {
      const code = errno(err);
      const parent = dirname(at);
      // EACCES: a folder on the way may not be searched; the walk up finds which.
      if ((code === "ENOENT" || code === "ENOTDIR" || code === "EACCES") && parent !== at) {
        at = parent;
        continue;
      }
      if (code === "EACCES" || code === "EPERM") return { message: `${dataDir} cannot be inspected: permission denied`, code, perUser: true };
      return { message: `${dataDir} cannot be inspected (${code ?? String(err)})` };
    }
    if (!isDir) {
      return {
        message: at === dataDir
          ? `${dataDir} is ${statSync(at).isFile() ? "a file" : "something else"}, not a directory`
          : `${dataDir} lies below ${at}, which is not a directory`,
      };
    }
    try {
      accessSync(at, constants.W_OK | constants.X_OK);
    } catch (err) {
      const code = errno(err);
      if (code === "EROFS") return { message: `${dataDir} is on a read-only file system`, code };
      const where = at === dataDir ? dataDir : `${dataDir} cannot be created: ${at}`;
      if (code === "EACCES" || code === "EPERM") return { message: `${where} is not writable: permission denied`, code, perUser: true };
      return { message: `${where} is not writable (${code ?? String(err)})` };
    }
    return undefined;
  }
}

/** The one-line fatal message for an error met while creating or writing the data dir. */
export function dataDirErrorText(dataDir: string, err: unknown): string {
  const code = errno(err) ?? (err as Error)?.message ?? String(err);
  // The errno alone can mislead (ENOENT for a read-only parent, ENOTDIR/EEXIST for a file in the way)
  // and does not say which folder is closed: the file system, looked at now, names the cause.
  const found = inspect(dataDir);
  if (found) return `data dir ${found.message} (${found.code ?? code})`;
  switch (code) {
    case "EROFS":
      return `data dir ${dataDir} is on a read-only file system (${code})`;
    case "EACCES":
    case "EPERM":
      return `data dir ${dataDir} is not writable: permission denied (${code})`;
    case "ENOSPC":
      return `data dir ${dataDir}: no space left on the device (${code})`;
    case "EDQUOT":
      return `data dir ${dataDir}: disk quota exceeded (${code})`;
  }
  return `data dir ${dataDir} is not writable (${code})`;
}

/** Creates the data dir (mode 0700) and proves it is writable. Throws a one-line Error otherwise. */
export function prepareDataDir(dataDir: string): void {
  try {
    if (!existsSync(dataDir)) mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const probe = resolve(dataDir, `.write-test-${process.pid}`);
    writeFileSync(probe, "");
    unlinkSync(probe);
  } catch (err) {
    throw new Error(dataDirErrorText(dataDir, err));
  }
}
