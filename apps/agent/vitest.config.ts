import { defineConfig } from "vitest/config";

export default defineConfig({
  // The command-line tests start node + tsx per case; a busy 2-core machine needs the room.
  test: { include: ["src/**/*.test.ts"], testTimeout: 30_000 },
});
