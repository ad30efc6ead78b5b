import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.spec.ts'],
    // The container tier builds an image and runs a compose stack: `npm run test:containers`.
    exclude: [...configDefaults.exclude, 'test/containers/**'],
    // Deploy and browser tests run the build output; build it once, before any file starts.
    globalSetup: ['test/support/build-once.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    reporters: ['default'],
  },
});
