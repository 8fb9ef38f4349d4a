// Whether Postern can write a directory, tried for real (root passes `access(W_OK)` on a
// directory it may not write in, and a read-only mount only shows when a write is attempted),
// with the cause in words an operator acts on. `postern doctor` and `postern serve` both use it.
import fs from "node:fs";
import path from "node:path";

const causes: Record<string, string> = {
  EROFS: "read-only file system",
  EACCES: "permission denied",
  EPERM: "permission denied",
  ENOSPC: "no space left on device",
  ENOTDIR: "a path component is a file, not a directory",
};

function causeOf(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return (e.code && causes[e.code]) ?? e.message ?? String(err);
}

function tryWrite(dir: string): void {
  const probe = path.join(dir, `.postern-write-test-${process.pid}`);
  fs.writeFileSync(probe, "");
  fs.rmSync(probe, { force: true });
}

/** The nearest directory on the way up that exists: where a failed `mkdir -p` really failed. */
function existingAncestor(dir: string): string {
  let at = path.dirname(dir);
  while (!fs.existsSync(at) && path.dirname(at) !== at) at = path.dirname(at);
  return at;
}

/** Null when `dir` exists (or was created) and takes a file; else the reason, in one line. With
 * `create: false` a missing `dir` is left missing, and the directory it would be made in is tried. */
export function writeProblem(dir: string, { create = true } = {}): string | null {
  const abs = path.resolve(dir);
  try {
    if (!create && !fs.existsSync(abs)) {
      tryWrite(existingAncestor(abs));
      return null;
    }
    fs.mkdirSync(abs, { recursive: true });
    tryWrite(abs);
    return null;
  } catch (err) {
    let cause = causeOf(err);
    // mkdir -p reports ENOENT on a read-only or foreign parent; the parent's own refusal is the cause.
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      try {
        tryWrite(existingAncestor(abs));
      } catch (inner) {
        cause = causeOf(inner);
      }
    }
    const uid = typeof process.getuid === "function" ? ` (running as uid ${process.getuid()})` : "";
    return `cannot write ${abs}: ${cause}${uid}`;
  }
}
