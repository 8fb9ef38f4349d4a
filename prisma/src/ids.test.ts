import { describe, expect, it } from "vitest";
import { newId } from "./ids";

describe("newId", () => {
  it("makes cuid-shaped ids, all different, across refills of its random pool", () => {
    const ids = Array.from({ length: 5000 }, () => newId());
    for (const id of ids) expect(id).toMatch(/^c[0-9a-z]{24}$/);
    expect(new Set(ids).size).toBe(ids.length);
    // The random part is not one value repeated from a stale pool.
    expect(new Set(ids.map((id) => id.slice(-8))).size).toBe(ids.length);
  });

  it("sorts ids by when they were made", async () => {
    const first = newId();
    await new Promise((r) => setTimeout(r, 5));
    expect(newId() > first).toBe(true);
  });
});
