import path from 'node:path';
import { type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumAvailable, launchChromium, screenshots } from '../support/browser.js';
import { call, createProjectOverHttp, startTestApp, type TestApp } from '../support/app.js';

const available = chromiumAvailable('dashboard browser tests');

type Project = { id: string; publicKey: string; secretKey: string };
let app: TestApp;
let browser: Browser;
/** How long to wait for the browser and the server on a busy machine; a bound, never a measure. */
const eventually = { timeout: 10_000 };
/** What the page's Content-Security-Policy refused, and what it threw: both must stay empty. */
const problems: string[] = [];

beforeAll(async () => {
  if (!available) return;
  app = await startTestApp({ rateLimits: 'off' });
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await app?.close();
});

async function openDashboard(on: TestApp, secretKey: string, adminToken?: string): Promise<Page> {
  const page = await (await browser.newContext({ viewport: { width: 1100, height: 900 } })).newPage();
  page.on('pageerror', (error) => problems.push(error.message));
  // The browser logs each refused key's 401 or 403 itself: those are the answers the key form expects.
  const expected = /^Failed to load resource: the server responded with a status of 40[13]/;
  page.on('console', (message) => (message.type() === 'error' || /Content Security Policy/i.test(message.text())) && !expected.test(message.text()) && problems.push(message.text()));
  page.on('dialog', (dialog) => void dialog.accept());
  await page.goto(`${on.baseUrl}/dashboard`);
  await page.getByLabel('Project secret key').fill(secretKey);
  if (adminToken !== undefined) await page.getByLabel('Admin token (optional, for projections)').fill(adminToken);
  await page.getByRole('button', { name: 'Open' }).click();
  return page;
}

const shoot = (page: Page, name: string) => page.screenshot({ path: path.join(screenshots, name), fullPage: true });
const sectionOf = (page: Page, heading: RegExp) => page.locator('section').filter({ has: page.getByRole('heading', { name: heading }) });

/** Votes through the API, then waits until the read model holds the last of them. */
async function vote(project: Project, poll: string, votes: [target: string, voter: string, value: number][]) {
  let position = '';
  for (const [target, voter, value] of votes) {
    position = (await call(app, 'POST', `/v1/polls/${poll}/votes`, { key: project.publicKey, body: { target, voter, value } })).body.position;
  }
  const [target] = votes.at(-1)!;
  await call(app, 'GET', `/v1/polls/${poll}/tallies/${target}?minPosition=${position}&waitMs=10000`, { key: project.publicKey });
}

describe.skipIf(!available)('the dashboard, in a real browser', () => {
  it('sends a wrong key back to the key form with a message, and signs out', async () => {
    const project: Project = await createProjectOverHttp(app, 'dashboard-keys', { likes: { kind: 'like' } });
    const page = await openDashboard(app, 'cv_sk_not-a-real-key');
    await expect.poll(() => page.locator('#key-message').textContent(), eventually).toMatch(/^That key was refused: The key is not valid\./);
    expect(await page.locator('#main').isHidden()).toBe(true);
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
    await shoot(page, 'dashboard-wrong-key.png');

    await page.getByLabel('Project secret key').fill(project.publicKey);
    await page.getByRole('button', { name: 'Open' }).click();
    await expect.poll(() => page.locator('#key-message').textContent(), eventually).toMatch(/needs the project's secret key/);

    await page.getByLabel('Project secret key').fill(project.secretKey);
    await page.getByRole('button', { name: 'Open' }).click();
    await page.getByRole('button', { name: 'Sign out' }).click(eventually);
    await expect.poll(() => page.locator('#key-message').textContent(), eventually).toBe('Signed out: the key is gone from this tab.');
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
    expect(await page.locator('#main').isHidden()).toBe(true);
  });

  it('says "no polls yet" and "no votes yet", and defines a rating poll with its own scale', async () => {
    const project: Project = await createProjectOverHttp(app, 'dashboard-empty');
    const page = await openDashboard(app, project.secretKey);
    await expect.poll(() => page.locator('#no-polls').isVisible(), eventually).toBe(true);
    await page.getByLabel('Name').fill('films');
    await page.getByLabel('Kind').selectOption('rating');
    await page.getByLabel('Lowest rating').fill('1');
    await page.getByLabel('Highest rating').fill('10');
    await shoot(page, 'dashboard-poll-form.png');
    await page.getByRole('button', { name: 'Save poll' }).click();
    await expect.poll(() => page.locator('#message').textContent(), eventually).toBe('Poll films created.');
    expect((await call(app, 'GET', '/v1/polls/films', { key: project.publicKey })).body).toMatchObject({ kind: 'rating', min: 1, max: 10 });

    await expect.poll(() => page.locator('#top tbody').textContent(), eventually).toBe('No votes yet on films.');
    await expect.poll(() => page.locator('#chart-empty').isVisible(), eventually).toBe(true);
    await expect.poll(() => page.locator('#audit tbody').textContent(), eventually).toBe('No votes yet on films.');
    expect(await page.locator('#no-polls').isHidden()).toBe(true);
    await shoot(page, 'dashboard-empty.png');
  });

  it('shows the top targets, the activity with net on its own axis, and the audit newest first, filtered and paged', async () => {
    const project: Project = await createProjectOverHttp(app, 'dashboard-busy', { votes: { kind: 'updown' } });
    const ballots: [string, string, number][] = Array.from({ length: 24 }, (_, i) => [`story-${i % 4}`, `reader-${i}`, i % 3 === 0 ? -1 : 1]);
    await vote(project, 'votes', [...ballots, ['story-1', 'reader-1', -1], ['story-2', 'reader-2', 0]]);
    const page = await openDashboard(app, project.secretKey);

    await expect.poll(() => page.locator('#top tbody tr').count(), eventually).toBe(4);
    await expect.poll(() => page.locator('#chart canvas').count(), eventually).toBeGreaterThan(0);
    // uPlot's legend names each series; net is drawn against the right-hand axis.
    expect(await page.locator('#chart .u-legend .u-series').allTextContents()).toEqual(expect.arrayContaining([expect.stringMatching(/^net \(right axis\)/)]));
    expect(await page.locator('#chart .u-axis').count()).toBe(3);
    expect(await page.locator('#chart-help').textContent()).toMatch(/Right axis, green bars: net, how far the poll's score moved/);
    await page.getByRole('button', { name: '30 days' }).click();
    await expect.poll(() => page.getByRole('button', { name: '30 days' }).getAttribute('aria-pressed')).toBe('true');
    await shoot(page, 'dashboard-overview.png');
    await sectionOf(page, /^Activity of/).screenshot({ path: path.join(screenshots, 'dashboard-activity.png') });

    const audit = sectionOf(page, /^Audit log of/);
    const voters = () => page.locator('#audit tbody tr td:nth-child(4)').allTextContents();
    await expect.poll(voters, eventually).toHaveLength(20);
    expect((await voters()).slice(0, 3)).toEqual(['reader-2', 'reader-1', 'reader-23']);
    await page.getByRole('button', { name: 'Older →' }).click();
    await expect.poll(voters, eventually).toEqual(['reader-5', 'reader-4', 'reader-3', 'reader-2', 'reader-1', 'reader-0']);
    expect(await page.getByRole('button', { name: 'Older →' }).isDisabled()).toBe(true);
    await page.getByRole('button', { name: '← Newer' }).click();
    await expect.poll(async () => (await voters())[0], eventually).toBe('reader-2');

    await audit.getByLabel('Voter').fill('reader-1');
    await page.getByRole('button', { name: 'Filter' }).click();
    await expect.poll(() => page.locator('#audit tbody tr td:nth-child(5)').allTextContents(), eventually).toEqual(['1 → -1', '0 → 1']);
    expect(await page.locator('#audit tbody tr td:nth-child(2)').allTextContents()).toEqual(['changed', 'cast']);
    await audit.screenshot({ path: path.join(screenshots, 'dashboard-audit-filtered.png') });
    await page.getByLabel('Target').fill('story-9');
    await page.getByRole('button', { name: 'Filter' }).click();
    await expect.poll(() => page.locator('#audit tbody').textContent(), eventually).toBe('No events match these filters.');
  });

  it('refreshes the projection lag by itself and offers a rebuild only where one is possible', async () => {
    const project: Project = await createProjectOverHttp(app, 'dashboard-projections', { likes: { kind: 'like' } });
    const page = await openDashboard(app, project.secretKey, app.adminToken);
    await expect.poll(() => page.locator('#lag').textContent(), eventually).toMatch(/\d+ events? behind the log/);
    const firstUpdate = await page.locator('#lag-updated').textContent();
    await expect.poll(() => page.locator('#lag-updated').textContent(), { timeout: 15_000 }).not.toBe(firstUpdate);
    expect(await page.getByRole('button', { name: 'Rebuild tallies' }).isVisible()).toBe(app.readModel === 'redis');
    await sectionOf(page, /^Projections$/).screenshot({ path: path.join(screenshots, 'dashboard-projections.png') });

    const embedded = await startTestApp({ embeddedCeiling: { maxTargets: 1000, maxBallots: 1000 } });
    let onEmbedded: Page | undefined;
    try {
      const inProcess: Project = await createProjectOverHttp(embedded, 'dashboard-embedded', { likes: { kind: 'like' } });
      const page = (onEmbedded = await openDashboard(embedded, inProcess.secretKey, embedded.adminToken));
      await expect.poll(() => page.locator('#rebuild-unavailable').isVisible(), eventually).toBe(true);
      expect(await page.getByRole('button', { name: 'Rebuild tallies' }).isHidden()).toBe(true);
      await sectionOf(page, /^Projections$/).screenshot({ path: path.join(screenshots, 'dashboard-projections-embedded.png') });
    } finally {
      // The page asks for the lag every few seconds: closed first, it never meets a server that has gone.
      await onEmbedded?.context().close();
      await embedded.close();
    }
  });

  it('edits the voter policy, origins and limits, creates and revokes a key, and retracts after a dry-run count', async () => {
    const project: Project = await createProjectOverHttp(app, 'dashboard-voters', { likes: { kind: 'like' } });
    for (const voter of ['sock-1', 'sock-2', 'ann']) await call(app, 'POST', '/v1/polls/likes/votes', { key: project.publicKey, body: { target: 'x', voter, value: 1 } });
    const page = await openDashboard(app, project.secretKey);
    await expect.poll(() => page.locator('#keys tbody tr').count(), eventually).toBe(2);

    await page.getByLabel('Voter policy').selectOption('signed');
    await page.getByLabel('Allowed origins, one per line (none: any)').fill('https://blog.example');
    await page.getByLabel('Votes per voter').fill('12');
    await page.getByRole('button', { name: 'Save settings' }).click();
    await expect.poll(() => page.locator('#message').textContent(), eventually).toBe('Settings saved.');
    const saved = (await call(app, 'GET', '/v1/projects/current', { key: project.secretKey })).body;
    expect(saved).toMatchObject({ voterPolicy: 'signed', allowedOrigins: ['https://blog.example'], rateLimits: { votesPerVoter: 12 } });
    await sectionOf(page, /^Voters and limits$/).screenshot({ path: path.join(screenshots, 'dashboard-settings.png') });

    await page.getByRole('button', { name: 'New public key' }).click();
    await expect.poll(() => page.locator('#keys tbody tr').count(), eventually).toBe(3);
    expect(await page.locator('#new-key-value').textContent()).toMatch(/^cv_pk_/);
    await sectionOf(page, /^Keys$/).screenshot({ path: path.join(screenshots, 'dashboard-keys.png') });
    await page.getByRole('button', { name: /^Revoke cv_pk_/ }).first().click();
    await expect.poll(() => page.locator('#keys tbody tr').count(), eventually).toBe(2);

    const moderation = sectionOf(page, /^Moderation$/);
    await moderation.getByLabel('Reason').fill('sock puppets');
    await moderation.getByLabel('Voter').fill('sock-1');
    await moderation.getByRole('button', { name: 'Count matching ballots' }).click();
    await expect.poll(() => page.locator('#mod-count').textContent(), eventually).toBe('1 active ballot matches.');
    await moderation.screenshot({ path: path.join(screenshots, 'dashboard-moderation.png') });
    await page.getByRole('button', { name: 'Retract 1 ballot' }).click();
    await expect.poll(() => page.locator('#mod-count').textContent(), eventually).toBe('Retracted 1 of 1 matching ballots.');
    const ballots = await app.database.db.selectFrom('ballots').select(['target', 'voter', 'value']).where('project_id', '=', project.id).execute();
    expect(ballots).toEqual(expect.arrayContaining([{ target: 'x', voter: 'sock-1', value: 0 }, { target: 'x', voter: 'ann', value: 1 }]));
  });

  it('threw nothing and needed nothing its Content-Security-Policy refuses', () => {
    expect(problems).toEqual([]);
  });
});
