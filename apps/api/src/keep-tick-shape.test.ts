// bin/keep-tick-shape.mjs holds one of Node's nextTick records so that a full garbage collection
// cannot free the hidden classes V8's inline cache for those records depends on (the cache would
// then go generic for good and every nextTick would take the slow path; see the module).
// Checked in a child process with V8's test natives: after full collections, a new record still
// has the kept record's hidden class.
import { spawnSync } from "node:child_process";
import path from "node:path";
import { describe, expect, it } from "vitest";

const helper = path.resolve(import.meta.dirname, "../bin/keep-tick-shape.mjs");

function runWithNatives(body: string): string {
  const script = `
    import { executionAsyncResource } from "node:async_hooks";
    import { keepTickShape, keptTickRecord } from ${JSON.stringify(helper)};
    const nextRecord = () => new Promise((resolve) => process.nextTick(() => resolve(executionAsyncResource())));
    ${body}
  `;
  const result = spawnSync(process.execPath, ["--allow-natives-syntax", "--expose-gc", "--input-type=module", "-e", script], {
    encoding: "utf8",
    timeout: 20_000,
  });
  if (result.status !== 0) throw new Error(`child failed (${result.status}): ${result.stderr}`);
  return result.stdout.trim();
}

describe("keepTickShape", () => {
  it("holds a nextTick record", () => {
    const out = runWithNatives(`
      const kept = await keepTickShape();
      console.log(JSON.stringify({ same: kept === keptTickRecord(), callback: typeof kept.callback }));
    `);
    expect(JSON.parse(out)).toEqual({ same: true, callback: "function" });
  });

  it("keeps the records' hidden class through full garbage collections", () => {
    // %HaveSameMap is V8's own test hook; written with new Function so that only the child,
    // which has --allow-natives-syntax, ever parses it.
    const out = runWithNatives(`
      const sameMap = new Function("a", "b", "return %HaveSameMap(a, b)");
      await keepTickShape();
      for (let i = 0; i < 3; i++) {
        gc();
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      const fresh = await nextRecord();
      console.log(String(sameMap(keptTickRecord(), fresh)));
    `);
    expect(out).toBe("true");
  });
});
