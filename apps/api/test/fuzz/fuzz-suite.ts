// The fuzz test for one database (see fuzz-run.ts). In the suite it runs for a bounded time;
// `pnpm fuzz` sets POSTERN_FUZZ_REQUESTS (default 100,000) and prints what it tried and found.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Provider } from "@postern/db";
import { buildTestApp, type TestApp } from "../app";
import { buildFuzzWorld, type FuzzWorld } from "./fuzz-world";
import { runFuzz, summary } from "./fuzz-run";
import { startSmtpSink } from "./smtp-sink";

const requested = Number(process.env.POSTERN_FUZZ_REQUESTS ?? 0);
const requests = requested > 0 ? requested : 1_000_000;
// In the suite: a fixed time per database (the two files run side by side), whatever the machine.
const budgetMs = requested > 0 ? undefined : 25_000;
const seed = Number(process.env.POSTERN_FUZZ_SEED ?? Date.now() % 1_000_000);

export function fuzzSuite(provider: Provider): void {
  describe(`fuzzing every route on ${provider}`, () => {
    let t: TestApp;
    let world: FuzzWorld;
    let smtp: Awaited<ReturnType<typeof startSmtpSink>>;
    beforeAll(async () => {
      smtp = await startSmtpSink();
      // The relay and the tunnel are on, so their routes do their work: mail goes to the local
      // sink, the tunnel dials a closed loopback port (buildTestApp) and fails fast.
      t = await buildTestApp(provider, { env: { ...smtp.env, NGROK_AUTHTOKEN: "fuzz-not-a-real-authtoken" } });
      world = await buildFuzzWorld(t.app);
    });
    afterAll(async () => {
      await t?.close();
      await smtp?.close();
    });

    it(`answers no 5xx, refuses in the envelope and writes nothing when refusing (seed ${seed})`, { timeout: budgetMs ? budgetMs + 60_000 : 24 * 3600_000 }, async () => {
      const progress = requested > 0 ? (line: string) => process.stderr.write(`[fuzz ${provider}] ${line}\n`) : undefined;
      const report = await runFuzz(world, { requests, budgetMs, seed, progress });
      console.log(summary(provider, report));
      expect(report.failures).toEqual([]);
      expect(report.serverErrors).toBe(0);
      expect(report.chainIntact).toBe(true);
      expect(report.requests).toBeGreaterThan(0);
    });
  });
}
