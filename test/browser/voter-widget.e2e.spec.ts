import path from 'node:path';
import { type Browser, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumAvailable, launchChromium, screenshots } from '../support/browser.js';
import { blogPage, startThirdPartySite, type ThirdPartySite } from '../support/third-party-site.js';
import { call, createProjectOverHttp, startTestApp, type TestApp } from '../support/app.js';
import { signJwt, voterClaims } from '../support/voter-tokens.js';

const available = chromiumAvailable('widget token browser tests');

type Project = { id: string; publicKey: string; secretKey: string };
let app: TestApp;
let browser: Browser;
/** Another site, on another origin, that embeds the widget: pages by path. */
let site: ThirdPartySite;
let siteOrigin: string;
/** How long to wait for the browser and the server on a busy machine; a bound, never a measure. */
const eventually = { timeout: 10_000 };

beforeAll(async () => {
  if (!available) return;
  app = await startTestApp();
  site = await startThirdPartySite();
  siteOrigin = site.origin;
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  site?.close();
  await app?.close();
});

async function projectWith(name: string, settings: Record<string, unknown>): Promise<Project> {
  const project = await createProjectOverHttp(app, name, { likes: { kind: 'like' } });
  await call(app, 'PATCH', '/v1/projects/current', { key: project.secretKey, body: settings });
  return project;
}

/** Serves a page on the other site with like widgets for these targets, and opens it. */
async function openPage(context: BrowserContext, project: Project, targets: string[], attributes = '') {
  const url = `/${Math.random().toString(36).slice(2)}`;
  const widgets = targets.map((target) => `<div data-clickvote-poll="likes" data-clickvote-target="${target}" ${attributes}></div>`).join('\n');
  site.pages.set(url, blogPage(`<article><h2>A post</h2><p>Some words worth a vote.</p>${widgets}</article>`, `<script src="${app.baseUrl}/widget.js" data-clickvote-key="${project.publicKey}" defer></script>`));
  const page = await context.newPage();
  const warnings: string[] = [];
  page.on('console', (message) => warnings.push(message.text()));
  await page.goto(siteOrigin + url);
  return { page, warnings, like: (index = 0) => page.getByRole('button', { name: 'Like' }).nth(index), status: (index = 0) => page.locator('.clickvote-status').nth(index) };
}

const ballotsOf = (project: Project) => app.database.db.selectFrom('ballots').select(['target', 'voter', 'value']).where('project_id', '=', project.id).execute();

describe.skipIf(!available)('the widget with voter tokens, in a real browser', () => {
  it('votes with data-clickvote-voter-token on a signed project, and shows a refusal without one', async () => {
    const project = await projectWith('signed-site', { voterPolicy: 'signed' });
    const token = signJwt(voterClaims('ann', project.id), project.secretKey);
    const signedIn = await openPage(await browser.newContext(), project, ['post-1'], `data-clickvote-voter-token="${token}"`);
    await signedIn.like().click();
    await expect.poll(() => signedIn.like().getAttribute('aria-pressed'), eventually).toBe('true');
    await expect.poll(() => ballotsOf(project), eventually).toEqual([{ target: 'post-1', voter: 'ann', value: 1 }]);

    const signedOut = await openPage(await browser.newContext(), project, ['post-1']);
    await expect.poll(() => signedOut.like().textContent(), eventually).toContain('1');
    await signedOut.like().click();
    await expect.poll(() => signedOut.status().textContent(), eventually).toBe('Sign in to vote');
    expect(await signedOut.page.locator('[data-clickvote-state="refused"]').count()).toBe(1);
    expect(await signedOut.like().getAttribute('aria-pressed')).toBe('false');
    expect(signedOut.warnings.join('\n')).toMatch(/Clickvote: refused \(401 voter_token_invalid\)/);
    await signedOut.page.screenshot({ path: path.join(screenshots, 'widget-error-401-sign-in.png'), fullPage: true });
    expect(await ballotsOf(project)).toHaveLength(1);
  });

  it('mints one anonymous voter per browser, keeps it in localStorage and knows its vote after a reload', async () => {
    const project = await projectWith('anonymous-site', { voterPolicy: 'anonymous' });
    const context = await browser.newContext();
    const first = await openPage(context, project, ['a', 'b']);
    await first.like(0).click();
    await expect.poll(() => first.like(0).getAttribute('aria-pressed'), eventually).toBe('true');
    await first.like(1).click();
    await expect.poll(() => first.like(1).getAttribute('aria-pressed'), eventually).toBe('true');
    // The buttons move at once; the votes (and the mint before them) are answered later.
    await expect.poll(() => ballotsOf(project), eventually).toHaveLength(2);
    const stored = await first.page.evaluate("Object.entries(localStorage).find(([name]) => name.startsWith('clickvote-anonymous:'))?.[1]");
    const saved = JSON.parse((stored as string | undefined) ?? 'null');
    expect(saved).toMatchObject({ voter: expect.stringMatching(/^anon-/), token: expect.any(String) });
    expect(new Set((await ballotsOf(project)).map((ballot) => ballot.voter))).toEqual(new Set([saved.voter]));

    // The reloaded page reads its own vote from the tallies: wait until they hold it.
    await expect.poll(async () => (await call(app, 'GET', '/v1/polls/likes/tallies/a', { key: project.publicKey })).body.count, eventually).toBe(1);
    const again = await openPage(context, project, ['a']);
    await expect.poll(() => again.like().getAttribute('aria-pressed'), eventually).toBe('true');
    const stranger = await openPage(await browser.newContext(), project, ['a']);
    await expect.poll(() => stranger.like().textContent(), eventually).toContain('1');
    expect(await stranger.like().getAttribute('aria-pressed')).toBe('false');
  });

  it('shows a refusal when a vote is over the rate limit', async () => {
    const project = await projectWith('limited-site', { rateLimits: { votesPerAddress: 1 } });
    const { like, status, warnings, page } = await openPage(await browser.newContext(), project, ['a', 'b']);
    await like(0).click();
    await expect.poll(() => like(0).getAttribute('aria-pressed'), eventually).toBe('true');
    await like(1).click();
    await expect.poll(() => status(1).textContent(), eventually).toMatch(/^Too many votes: try again in \d+ s$/);
    expect(await like(1).getAttribute('aria-pressed')).toBe('false');
    expect(warnings.join('\n')).toMatch(/Clickvote: refused \(429 rate_limited\)/);
    await page.screenshot({ path: path.join(screenshots, 'widget-error-429-rate-limited.png'), fullPage: true });
  });

  it('votes from a listed origin and says why nothing works from another', async () => {
    const listed = await projectWith('listed-site', { allowedOrigins: [siteOrigin] });
    const allowed = await openPage(await browser.newContext(), listed, ['a']);
    await allowed.like().click();
    await expect.poll(() => allowed.like().getAttribute('aria-pressed'), eventually).toBe('true');

    const elsewhere = await projectWith('elsewhere-site', { allowedOrigins: ['https://elsewhere.example'] });
    const refused = await openPage(await browser.newContext(), elsewhere, ['a']);
    await expect.poll(() => refused.status().textContent(), eventually).toBe('Voting is not available');
    expect(refused.warnings.join('\n')).toMatch(/allowedOrigins/);
    await refused.page.screenshot({ path: path.join(screenshots, 'widget-error-403-origin.png'), fullPage: true });
  });
});
