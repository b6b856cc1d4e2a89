import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 600_000,
    // Kernel-tree tests share one extracted tree per version; running files in parallel on 2 cores only contends.
    fileParallelism: false,
  },
});
