import { defineConfig } from "vitest/config";

// Unit tests only; the browser tests have their own config (e2e/vitest.config.ts) and need a build.
export default defineConfig({
  test: { include: ["src/**/*.test.{ts,tsx}"] },
});
