import { defineConfig } from 'vitest/config';

/** `npm run test:containers`: builds the image and runs it and the compose stack (podman or docker). */
export default defineConfig({
  test: {
    include: ['test/containers/**/*.containers.spec.ts'],
    globalSetup: ['test/containers/support/image-once.ts'],
    testTimeout: 300_000,
    hookTimeout: 900_000,
    pool: 'forks',
    // One container workload at a time: the machine has two cores.
    fileParallelism: false,
    reporters: ['default'],
  },
});
