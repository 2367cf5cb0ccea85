import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Two cores, and suites that measure time (browser, WebSocket, storm, load): one file at a
    // time, so no suite's clock runs against another's ten worker processes.
    fileParallelism: false,
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
