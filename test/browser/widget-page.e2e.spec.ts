import path from 'node:path';
import { type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumAvailable, launchChromium, screenshots } from '../support/browser.js';
import { blogPage, startThirdPartySite, type ThirdPartySite } from '../support/third-party-site.js';
import { call, createProjectOverHttp, startTestApp, type TestApp } from '../support/app.js';

const available = chromiumAvailable('widget page browser tests');

type Project = { id: string; publicKey: string; secretKey: string };
let app: TestApp;
let browser: Browser;
/** A blog on another origin that embeds the widget: pages by path. */
let site: ThirdPartySite;
let siteOrigin: string;
/** How long to wait for the browser and the server on a busy machine; a bound, never a measure. */
const eventually = { timeout: 10_000 };
const polls = { likes: { kind: 'like' }, votes: { kind: 'updown' }, stars: { kind: 'rating', min: 1, max: 5 } };

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

/** Publishes a page on the blog with this body and the widget's script tag; returns its URL. */
function publish(project: Project, body: string): string {
  const url = `/${Math.random().toString(36).slice(2)}`;
  site.pages.set(url, blogPage(body, `<script src="${app.baseUrl}/widget.js" data-clickvote-key="${project.publicKey}" defer></script>`));
  return siteOrigin + url;
}

/** Opens a page and counts the realtime streams it opens. */
async function open(context: BrowserContext, url: string) {
  const page = await context.newPage();
  const streams: string[] = [];
  const warnings: string[] = [];
  page.on('request', (request) => /\/stream\?/.test(request.url()) && streams.push(request.url()));
  page.on('console', (message) => warnings.push(message.text()));
  await page.goto(url);
  return { page, streams, warnings };
}

const pressed = (page: Page, name: string | RegExp, index = 0) => page.getByRole('button', { name }).nth(index).getAttribute('aria-pressed');

describe.skipIf(!available)('a page with widgets of three polls, in a real browser', () => {
  it('holds one stream for all of them, and votes in one tab show live in another', async () => {
    const project: Project = await createProjectOverHttp(app, 'three-polls', polls);
    const url = publish(project, `
      <article><h2>First post</h2><div data-clickvote-poll="likes" data-clickvote-target="post-1"></div><div data-clickvote-poll="votes" data-clickvote-target="post-1"></div></article>
      <article><h2>Second post</h2><div data-clickvote-poll="likes" data-clickvote-target="post-2"></div><div data-clickvote-poll="stars" data-clickvote-target="post-2"></div></article>`);
    const context = await browser.newContext();
    const first = await open(context, url);
    const second = await open(context, url);
    for (const tab of [first, second]) await tab.page.getByRole('button', { name: 'Rate 5 of 5' }).waitFor(eventually);
    await expect.poll(() => first.streams.length, eventually).toBe(1);
    await expect.poll(() => second.streams.length, eventually).toBe(1);
    expect(first.streams[0]).toMatch(/\/v1\/stream\?/);
    expect(new URL(first.streams[0]!).searchParams.getAll('subscribe').sort()).toEqual(['likes:post-1', 'likes:post-2', 'stars:post-2', 'votes:post-1']);

    await first.page.getByRole('button', { name: 'Like' }).nth(1).click();
    await first.page.getByRole('button', { name: 'Vote down' }).click();
    await first.page.getByRole('button', { name: 'Rate 4 of 5' }).click();
    await expect.poll(() => pressed(first.page, 'Rate 4 of 5'), eventually).toBe('true');
    const like = second.page.getByRole('button', { name: 'Like' });
    await expect.poll(() => like.nth(1).textContent(), eventually).toContain('1');
    expect(await like.nth(0).textContent()).toContain('0');
    await expect.poll(() => second.page.getByText('-1', { exact: true }).count(), eventually).toBe(1);
    await expect.poll(() => second.page.getByText('4.0 (1)').count(), eventually).toBe(1);
    // A live count does not press the other tab's button: only its own vote does.
    expect(await pressed(second.page, 'Rate 4 of 5')).toBe('false');
    expect([first.streams.length, second.streams.length]).toEqual([1, 1]);
    const tally = await call(app, 'GET', '/v1/polls/votes/tallies/post-1', { key: project.publicKey });
    expect(tally.body).toMatchObject({ count: 1, sum: -1 });
    await second.page.screenshot({ path: path.join(screenshots, 'widget-three-polls-live.png'), fullPage: true });
  });
});

describe.skipIf(!available)('the <clickvote-buttons> custom element, in a real browser', () => {
  it('renders and votes like the data attributes, dispatches clickvote:change and clickvote:error, and joins the stream when added later', async () => {
    const project: Project = await createProjectOverHttp(app, 'custom-element', polls);
    const url = publish(project, `
      <clickvote-buttons poll="likes" target="post-1"></clickvote-buttons>
      <clickvote-buttons poll="nope" target="post-1"></clickvote-buttons>
      <script>
        window.received = [];
        for (const name of ['clickvote:change', 'clickvote:error']) {
          document.addEventListener(name, (event) => received.push({ name, tag: event.target.localName, detail: event.detail }));
        }
      </script>`);
    const { page, streams, warnings } = await open(await browser.newContext(), url);
    const received = () => page.evaluate('window.received') as Promise<{ name: string; tag: string; detail: Record<string, unknown> }[]>;

    await expect.poll(received, eventually).toEqual([{ name: 'clickvote:error', tag: 'clickvote-buttons', detail: expect.objectContaining({ poll: 'nope', status: 404 }) }]);
    // Console messages reach the test after the page's own state: polled, not read once.
    await expect.poll(() => warnings.join('\n'), eventually).toMatch(/Clickvote: refused \(404/);
    await page.getByRole('button', { name: 'Like' }).click();
    await expect.poll(() => pressed(page, 'Like'), eventually).toBe('true');
    await expect.poll(async () => (await received()).map((event) => event.name), eventually).toEqual(['clickvote:error', 'clickvote:change']);
    expect((await received())[1]!.detail).toMatchObject({ poll: 'likes', target: 'post-1', value: 1, tally: { count: 1 } });
    await expect.poll(() => streams.length, eventually).toBe(1);

    // A framework renders an element after the page has loaded: it mounts, and the page's one
    // stream is replaced by one that covers it too.
    await page.evaluate(`document.body.insertAdjacentHTML('beforeend', '<clickvote-buttons poll="stars" target="film-1"></clickvote-buttons>')`);
    await page.getByRole('button', { name: 'Rate 3 of 5' }).waitFor(eventually);
    await expect.poll(() => streams.length, eventually).toBe(2);
    expect(new URL(streams[1]!).searchParams.getAll('subscribe').sort()).toEqual(['likes:post-1', 'stars:film-1']);
    await call(app, 'POST', '/v1/polls/stars/votes', { key: project.publicKey, body: { target: 'film-1', voter: 'elsewhere', value: 3 } });
    await expect.poll(() => page.getByText('3.0 (1)').count(), eventually).toBe(1);
    await page.screenshot({ path: path.join(screenshots, 'widget-custom-element.png'), fullPage: true });
  });
});

describe.skipIf(!available)('the widget’s look and honest states, in a real browser', () => {
  const kinds = `
    <article><h2>A post</h2><p>Liked by readers, one heart each.</p><div data-clickvote-poll="likes" data-clickvote-target="post-1"></div></article>
    <article><h2>A story</h2><p>Voted up or down, with its score between the arrows.</p><div data-clickvote-poll="votes" data-clickvote-target="story-1"></div></article>
    <article><h2>A film</h2><p>Rated from one to five stars, the average beside them.</p><div data-clickvote-poll="stars" data-clickvote-target="film-1"></div></article>`;
  // Runs in the page, where getComputedStyle exists; this project's TypeScript has no DOM library.
  type InPage = { getComputedStyle(element: unknown): { backgroundColor: string } };
  const backgroundOf = (button: Locator) => button.evaluate((b) => (globalThis as unknown as InPage).getComputedStyle(b).backgroundColor);
  const background = (page: Page, name: string) => backgroundOf(page.getByRole('button', { name }));

  it('renders in a shadow root with a pressed state for each kind, in light and dark, themable by custom properties', async () => {
    const project: Project = await createProjectOverHttp(app, 'look', polls);
    for (const voter of ['a', 'b', 'c']) await call(app, 'POST', '/v1/polls/stars/votes', { key: project.publicKey, body: { target: 'film-1', voter, value: 3 } });
    const url = publish(project, `${kinds}<style>.themed { --clickvote-accent: rgb(200, 30, 90); }</style><article class="themed"><h2>A themed post</h2><p>This blog sets <code>--clickvote-accent</code>.</p><clickvote-buttons poll="likes" target="post-2"></clickvote-buttons></article>`);
    for (const colorScheme of ['light', 'dark'] as const) {
      // Reduced motion: the screenshots show settled states, not a count mid-bump.
      const context = await browser.newContext({ colorScheme, reducedMotion: 'reduce' });
      const { page } = await open(context, url);
      await page.getByRole('button', { name: 'Rate 5 of 5' }).waitFor(eventually);
      expect(await page.locator('[data-clickvote-poll]').evaluateAll((hosts) => hosts.map((host) => host.shadowRoot !== null))).toEqual([true, true, true]);
      // The page's own styles stay outside: the buttons look the same on any blog.
      await expect.poll(() => page.getByText('3.0 (3)').count(), eventually).toBe(1);
      await page.screenshot({ path: path.join(screenshots, `widget-${colorScheme}-unpressed.png`), fullPage: true });
      const unpressed = await background(page, 'Vote up');
      await page.getByRole('button', { name: 'Like' }).first().click();
      await page.getByRole('button', { name: 'Vote down' }).click();
      await page.getByRole('button', { name: 'Rate 4 of 5' }).click();
      await page.getByRole('button', { name: 'Like' }).nth(1).click();
      await expect.poll(() => pressed(page, 'Rate 4 of 5'), eventually).toBe('true');
      await expect.poll(() => pressed(page, 'Vote down'), eventually).toBe('true');
      await expect.poll(() => background(page, 'Vote down'), eventually).not.toBe(unpressed);
      // Polled: the pressed colour fades in.
      await expect.poll(() => backgroundOf(page.getByRole('button', { name: 'Like' }).nth(1)), eventually).toBe('rgb(200, 30, 90)');
      // From the keyboard, so the focus ring shows.
      await page.getByRole('button', { name: 'Rate 3 of 5' }).focus();
      await page.keyboard.press('Tab');
      await page.screenshot({ path: path.join(screenshots, `widget-${colorScheme}-pressed.png`), fullPage: true });
      // Clicking one's current value retracts it.
      for (const name of ['Vote down', 'Rate 4 of 5']) await page.getByRole('button', { name }).click();
      await expect.poll(() => pressed(page, 'Rate 4 of 5'), eventually).toBe('false');
      await expect.poll(() => pressed(page, 'Vote down'), eventually).toBe('false');
      await context.close();
    }
  });

  it('says so, visibly and once on the console, for a bad key, an unknown poll, a closed poll and a lost stream', async () => {
    const project: Project = await createProjectOverHttp(app, 'honest', polls);
    const badKey = await open(await browser.newContext(), publish({ ...project, publicKey: 'cv_pk_not-a-key' }, kinds));
    await expect.poll(() => badKey.page.locator('.clickvote-status').allTextContents(), eventually).toEqual(Array(3).fill('Voting is not set up here (bad key)'));
    expect(await badKey.page.locator('[data-clickvote-poll] [aria-live]').count()).toBe(3);
    await expect.poll(() => badKey.warnings.filter((text) => text.startsWith('Clickvote:')), eventually).toEqual([expect.stringMatching(/refused \(401 unauthenticated\)/)]);
    await badKey.page.screenshot({ path: path.join(screenshots, 'widget-error-bad-key.png'), fullPage: true });

    const unknown = await open(await browser.newContext(), publish(project, '<div data-clickvote-poll="no-such-poll" data-clickvote-target="x"></div>'));
    await expect.poll(() => unknown.page.locator('.clickvote-status').textContent(), eventually).toBe('This poll does not exist');
    await unknown.page.screenshot({ path: path.join(screenshots, 'widget-error-unknown-poll.png'), fullPage: true });

    const closing = await open(await browser.newContext(), publish(project, kinds));
    await closing.page.getByRole('button', { name: 'Rate 5 of 5' }).waitFor(eventually);
    await call(app, 'DELETE', '/v1/polls/votes', { key: project.secretKey });
    await closing.page.getByRole('button', { name: 'Vote up' }).click();
    await expect.poll(() => closing.page.locator('.clickvote-status').nth(1).textContent(), eventually).toBe('Voting has closed: your vote was not counted');
    expect(await pressed(closing.page, 'Vote up')).toBe('false');
    expect(await closing.page.locator('.clickvote-score').nth(1).textContent()).toBe('0');
    await closing.page.screenshot({ path: path.join(screenshots, 'widget-error-410-closed.png'), fullPage: true });

    const context = await browser.newContext();
    await context.route('**/v1/stream?**', (route) => route.abort());
    const lost = await open(context, publish(project, kinds));
    await expect.poll(() => lost.page.locator('.clickvote-status').first().textContent(), eventually).toBe('Live counts paused: reconnecting…');
    await expect.poll(() => lost.warnings.filter((text) => /live counts/.test(text)), eventually).toHaveLength(1);
    await lost.page.screenshot({ path: path.join(screenshots, 'widget-error-lost-connection.png'), fullPage: true });
    // Back on the network, EventSource reconnects: the message goes and the counts catch up.
    await call(app, 'POST', '/v1/polls/likes/votes', { key: project.publicKey, body: { target: 'post-1', voter: 'meanwhile', value: 1 } });
    await context.unrouteAll();
    await expect.poll(() => lost.page.locator('.clickvote-status').first().textContent(), { timeout: 20_000 }).toBe('');
    await expect.poll(() => lost.page.getByRole('button', { name: 'Like' }).textContent(), eventually).toContain('1');
  });

  it('shows a vote refused with 409 and rolls it back', async () => {
    const project: Project = await createProjectOverHttp(app, 'full', { likes: { kind: 'like', maxTargets: 1 } });
    await call(app, 'POST', '/v1/polls/likes/votes', { key: project.publicKey, body: { target: 'old-post', voter: 'earlier', value: 1 } });
    const { page, warnings } = await open(await browser.newContext(), publish(project, `
      <p>An old post <clickvote-buttons poll="likes" target="old-post"></clickvote-buttons></p>
      <p>A new post <clickvote-buttons poll="likes" target="new-post"></clickvote-buttons></p>`));
    const like = page.getByRole('button', { name: 'Like' });
    await expect.poll(() => like.nth(0).textContent(), eventually).toBe('♡ 1');
    await like.nth(1).click();
    await expect.poll(() => page.locator('.clickvote-status').nth(1).textContent(), eventually).toBe('This poll takes no new items: your vote was not counted');
    expect(await like.nth(1).getAttribute('aria-pressed')).toBe('false');
    expect(await like.nth(1).textContent()).toBe('♡ 0');
    expect(await page.locator('clickvote-buttons[data-clickvote-state="refused"]').count()).toBe(1);
    await expect.poll(() => warnings.join('\n'), eventually).toMatch(/Clickvote: refused \(409 poll_target_limit_reached\)/);
    await page.screenshot({ path: path.join(screenshots, 'widget-error-409-target-limit.png'), fullPage: true });
    expect((await call(app, 'GET', '/v1/polls/likes/tallies/new-post', { key: project.publicKey })).body.count).toBe(0);
  });

  it('bumps a changed count, and does not under prefers-reduced-motion', async () => {
    const project: Project = await createProjectOverHttp(app, 'motion', polls);
    const url = publish(project, kinds);
    const animationOf = (page: Page, selector: string) =>
      page.locator(selector).first().evaluate((element) => (globalThis as unknown as { getComputedStyle(e: unknown): { animationName: string } }).getComputedStyle(element).animationName);
    for (const [reducedMotion, expected] of [['no-preference', 'cv-bump'], ['reduce', 'none']] as const) {
      const { page } = await open(await browser.newContext({ reducedMotion }), url);
      await page.getByRole('button', { name: 'Rate 5 of 5' }).waitFor(eventually);
      // The like count is in its button, the up/down score beside its arrows: both bump, from a click and from the stream.
      await page.getByRole('button', { name: 'Like' }).click();
      await page.locator('.clickvote-button.bump').first().waitFor(eventually);
      expect(await animationOf(page, '.clickvote-button.bump')).toBe(expected);
      await call(app, 'POST', '/v1/polls/votes/votes', { key: project.publicKey, body: { target: 'story-1', voter: `reader-${reducedMotion}`, value: 1 } });
      await page.locator('.clickvote-score.bump').first().waitFor(eventually);
      expect(await animationOf(page, '.clickvote-score.bump')).toBe(expected);
      await page.context().close();
    }
  });

  it('shows counts for humans: 1.2k', async () => {
    const project: Project = await createProjectOverHttp(app, 'popular', polls);
    // Secret-key votes are not rate limited; a few at a time keeps the shared machine responsive.
    for (let first = 0; first < 1234; first += 25) {
      await Promise.all(Array.from({ length: Math.min(25, 1234 - first) }, (_, i) =>
        call(app, 'POST', '/v1/polls/likes/votes', { key: project.secretKey, body: { target: 'hit', voter: `fan-${first + i}`, value: 1 } })));
    }
    const { page } = await open(await browser.newContext(), publish(project, '<clickvote-buttons poll="likes" target="hit"></clickvote-buttons>'));
    await expect.poll(() => page.getByRole('button', { name: 'Like' }).textContent(), eventually).toBe('♡ 1.2k');
  });
});
