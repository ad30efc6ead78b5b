import path from 'node:path';
import { type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumAvailable, launchChromium, screenshots } from '../support/browser.js';
import { call, startTestApp, type TestApp } from '../support/app.js';

const available = chromiumAvailable('browser tests');

let app: TestApp;
let browser: Browser;
/** What the pages' Content-Security-Policy refused: every page must work within it. */
const refusedByPolicy: string[] = [];

beforeAll(async () => {
  if (!available) return;
  app = await startTestApp({ demo: true });
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await app?.close();
});

function watchPolicy(page: Page): void {
  page.on('console', (message) => /Content Security Policy/i.test(message.text()) && refusedByPolicy.push(message.text()));
}

async function openDemo(voter: string): Promise<Page> {
  const context = await browser.newContext();
  // Each context is a different reader of the page: give each its own voter id.
  await context.addInitScript(`localStorage.setItem('clickvote-voter', ${JSON.stringify(voter)})`);
  const page = await context.newPage();
  watchPolicy(page);
  await page.goto(`${app.baseUrl}/demo`);
  await page.getByRole('button', { name: 'Like' }).waitFor();
  return page;
}

describe.skipIf(!available)('in a real browser', () => {
  it('a like on /demo changes the count, and a second reader sees it change live', async () => {
    const first = await openDemo('reader-one');
    const second = await openDemo('reader-two');
    const like = (page: Page) => page.getByRole('button', { name: 'Like' });
    await expect.poll(() => like(second).textContent()).toContain('0');

    await like(first).click();
    await expect.poll(() => like(first).getAttribute('aria-pressed')).toBe('true');
    await expect.poll(() => like(first).textContent()).toContain('1');
    await expect.poll(() => like(second).textContent(), { timeout: 5000 }).toContain('1');
    await first.screenshot({ path: path.join(screenshots, 'demo-liked.png') });
    await second.screenshot({ path: path.join(screenshots, 'demo-live.png') });

    const tally = await call(app, 'GET', '/v1/polls/likes/tallies/post-1', { key: app.demo!.publicKey });
    expect(tally.body.count).toBe(1);
  });

  it('votes with the keyboard alone', async () => {
    const page = await openDemo('keyboard-reader');
    const four = page.getByRole('button', { name: 'Rate 4 of 5' });
    await four.waitFor();
    await four.focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => four.getAttribute('aria-pressed')).toBe('true');
    const up = page.getByRole('button', { name: 'Vote up' });
    await up.focus();
    await page.keyboard.press('Space');
    await expect.poll(() => up.getAttribute('aria-pressed')).toBe('true');
    await page.screenshot({ path: path.join(screenshots, 'demo-keyboard.png') });
    const stars = await call(app, 'GET', '/v1/polls/stars/tallies/film-1?voter=keyboard-reader', { key: app.demo!.publicKey });
    expect(stars.body).toMatchObject({ count: 1, voterValue: 4 });
  });

  it('no page needed anything its Content-Security-Policy refuses', () => {
    expect(refusedByPolicy).toEqual([]);
  });
});
