import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { type Browser, chromium } from 'playwright-core';

/** Debian's chromium, which .ci/run installs with apt; Playwright downloads no browser. */
export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const screenshots = path.resolve(import.meta.dirname, '../../test-output');

/** Whether the browser tests of `suite` can run; says loudly when they are skipped. */
export function chromiumAvailable(suite: string): boolean {
  const available = existsSync(chromiumPath);
  if (!available) console.warn(`\n*** ${chromiumPath} not found: ${suite} are SKIPPED (apt-get install chromium) ***\n`);
  return available;
}

/** Chromium with the flags this machine's closed network needs (no background requests). */
export function launchChromium(): Promise<Browser> {
  mkdirSync(screenshots, { recursive: true });
  return chromium.launch({
    executablePath: chromiumPath,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}
