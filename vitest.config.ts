import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 600_000,
    // Kernel-tree tests share one extracted tree per version; running files in parallel on 2 cores only contends.
    fileParallelism: false,
    // Mutation and fuzz tests parse thousands of versions of vmx.c; tree-sitter's native memory is returned
    // only when they can collect garbage explicitly.
    execArgv: ["--expose-gc"],
  },
});
