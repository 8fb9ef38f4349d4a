// The fault suite (`pnpm test:faults`): real server processes killed, signalled, starved of disk
// and of their database. Kept out of the unit run; one file at a time, since the files stop the
// shared PostgreSQL cluster and fill volumes.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["faults/**/*.test.ts"],
    testTimeout: 240_000,
    hookTimeout: 240_000,
    fileParallelism: false,
  },
});
