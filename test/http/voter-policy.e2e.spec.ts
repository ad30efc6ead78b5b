import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, createProjectOverHttp, startTestApp, type TestApp } from '../support/app.js';
import { countVoteEvents } from '../support/fixtures.js';
import { signJwt, voterClaims } from '../support/voter-tokens.js';

let app: TestApp;
type Project = { id: string; publicKey: string; secretKey: string };
let signed: Project;
let other: Project;

const polls = { likes: { kind: 'like' }, votes: { kind: 'updown' } };

beforeAll(async () => {
  app = await startTestApp();
  signed = await createProjectOverHttp(app, 'signed', polls);
  other = await createProjectOverHttp(app, 'other', polls);
  await call(app, 'PATCH', '/v1/projects/current', { key: signed.secretKey, body: { voterPolicy: 'signed' } });
});

afterAll(() => app.close());

const vote = (project: Project, token: string | undefined, body: Record<string, unknown>) =>
  call(app, 'POST', '/v1/polls/votes/votes', { key: project.publicKey, body, headers: token === undefined ? {} : { 'clickvote-voter': token } });
const read = (project: Project, token: string | undefined, query: string) =>
  call(app, 'GET', `/v1/polls/votes/tallies/${query}`, { key: project.publicKey, headers: token === undefined ? {} : { 'clickvote-voter': token } });
const target = () => `post-${randomBytes(4).toString('hex')}`;

async function expectRefusedWithNothingAppended(token: string | undefined, detail: RegExp) {
  const before = await countVoteEvents(app.database.db);
  const response = await vote(signed, token, { target: target(), value: 1 });
  expect(response.status).toBe(401);
  expect(response.body).toMatchObject({ type: 'urn:clickvote:problem:voter_token_invalid', voterPolicy: 'signed', detail: expect.stringMatching(detail) });
  expect(await countVoteEvents(app.database.db)).toBe(before);
}

describe('project settings', () => {
  it('shows the policy, origins, limits and keys of the secret key\'s project', async () => {
    const response = await call(app, 'GET', '/v1/projects/current', { key: other.secretKey });
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ id: other.id, name: 'other', voterPolicy: 'open', allowedOrigins: [] });
    expect(response.body.keys).toEqual([
      { fingerprint: expect.stringMatching(/^cv_pk_[0-9a-f]{12}$/), kind: 'public', createdAt: expect.any(String), lastUsedAt: null },
      { fingerprint: expect.stringMatching(/^cv_sk_[0-9a-f]{12}$/), kind: 'secret', createdAt: expect.any(String), lastUsedAt: expect.any(String) },
    ]);
  });

  it('changes only with the secret key and only to a known policy', async () => {
    expect((await call(app, 'PATCH', '/v1/projects/current', { key: other.publicKey, body: { voterPolicy: 'signed' } })).status).toBe(403);
    const bad = await call(app, 'PATCH', '/v1/projects/current', { key: other.secretKey, body: { voterPolicy: 'closed', allowedOrigins: ['https://a.example/path'] } });
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: { field: string }) => e.field)).toEqual(expect.arrayContaining(['voterPolicy', 'allowedOrigins.0']));
    expect((await call(app, 'GET', '/v1/projects/current', { key: other.secretKey })).body.voterPolicy).toBe('open');
  });

  it('lists every project to the admin only', async () => {
    const listed = await call(app, 'GET', '/v1/projects', { key: app.adminToken });
    expect(listed.body.projects).toEqual(expect.arrayContaining([{ id: signed.id, name: 'signed', createdAt: expect.any(String) }]));
    expect((await call(app, 'GET', '/v1/projects', { key: signed.secretKey })).status).toBe(403);
  });
});

describe('a signed project', () => {
  it('refuses a vote without a token, and one with a forged, expired, wrongly signed or other project\'s token, appending nothing', async () => {
    const now = Math.floor(Date.now() / 1000);
    await expectRefusedWithNothingAppended(undefined, /send "Clickvote-Voter/);
    await expectRefusedWithNothingAppended('not-a-token', /not a compact JWT/);
    await expectRefusedWithNothingAppended(signJwt(voterClaims('ann', signed.id), `cv_sk_${randomBytes(32).toString('base64url')}`), /not signed by any live secret key/);
    await expectRefusedWithNothingAppended(signJwt(voterClaims('ann', signed.id), signed.publicKey), /not signed by any live secret key/);
    await expectRefusedWithNothingAppended(signJwt(voterClaims('ann', signed.id, 3600, now - 7200), signed.secretKey), /has expired/);
    await expectRefusedWithNothingAppended(signJwt(voterClaims('ann', signed.id), signed.secretKey, { alg: 'HS512', typ: 'JWT' }), /HS256/);
    await expectRefusedWithNothingAppended(signJwt(voterClaims('ann', signed.id), signed.secretKey, { alg: 'none' }), /HS256/);
    await expectRefusedWithNothingAppended(signJwt(voterClaims('ann', other.id), other.secretKey), /not signed by any live secret key/);
    await expectRefusedWithNothingAppended(signJwt(voterClaims('ann', other.id), signed.secretKey), /another project/);
    await expectRefusedWithNothingAppended(signJwt(voterClaims('ann', signed.id, 31 * 24 * 3600), signed.secretKey), /30 days/);
    await expectRefusedWithNothingAppended(signJwt({ sub: 'ann', aud: signed.id, iat: now }, signed.secretKey), /"exp"/);
    await expectRefusedWithNothingAppended(signJwt({ sub: '', aud: signed.id, iat: now, exp: now + 60 }, signed.secretKey), /"sub"|subject/);
    const valid = signJwt(voterClaims('ann', signed.id), signed.secretKey);
    const [header, , signature] = valid.split('.');
    const tampered = `${header}.${Buffer.from(JSON.stringify(voterClaims('bob', signed.id))).toString('base64url')}.${signature}`;
    await expectRefusedWithNothingAppended(tampered, /not signed by any live secret key/);
  });

  it('casts a vote as the subject of a token the site signed itself', async () => {
    const token = signJwt(voterClaims('ann', signed.id), signed.secretKey);
    const post = target();
    expect(await vote(signed, token, { target: post, value: 1 })).toMatchObject({ status: 200, body: { voter: 'ann', value: 1, changed: true } });
    expect(await vote(signed, token, { target: post, voter: 'ann', value: -1 })).toMatchObject({ status: 200, body: { voter: 'ann', value: -1 } });
  });

  it('never lets a token for voter A read or change voter B', async () => {
    const post = target();
    const bob = signJwt(voterClaims('bob', signed.id), signed.secretKey);
    const ann = signJwt(voterClaims('ann', signed.id), signed.secretKey);
    const cast = await vote(signed, bob, { target: post, value: 1 });
    const before = await countVoteEvents(app.database.db);
    const change = await vote(signed, ann, { target: post, voter: 'bob', value: -1 });
    expect(change).toMatchObject({ status: 403, body: { type: 'urn:clickvote:problem:forbidden', detail: expect.stringMatching(/another voter/) } });
    expect(await countVoteEvents(app.database.db)).toBe(before);
    expect((await read(signed, ann, `${post}?voter=bob`)).status).toBe(403);
    expect((await call(app, 'GET', `/v1/polls/votes/tallies?target=${post}&voter=bob`, { key: signed.publicKey, headers: { 'clickvote-voter': ann } })).status).toBe(403);
    expect((await read(signed, undefined, `${post}?voter=bob`)).status).toBe(401);
    expect((await read(signed, bob, `${post}?voter=bob&minPosition=${cast.body.position}&waitMs=10000`)).body).toMatchObject({ voterValue: 1 });
    expect((await read(signed, undefined, post)).body).toMatchObject({ count: 1 });
    expect((await read(signed, undefined, post)).body.voterValue).toBeUndefined();
  });

  it('takes tokens minted with the secret key, and lets the secret key name any voter', async () => {
    expect((await call(app, 'POST', '/v1/voter-tokens', { key: signed.publicKey, body: { voter: 'cy' } })).status).toBe(403);
    expect((await call(app, 'POST', '/v1/voter-tokens', { key: signed.secretKey, body: { voter: 'cy', ttlSeconds: 31 * 24 * 3600 } })).status).toBe(400);
    const minted = await call(app, 'POST', '/v1/voter-tokens', { key: signed.secretKey, body: { voter: 'cy', ttlSeconds: 600 } });
    expect(minted).toMatchObject({ status: 200, body: { voter: 'cy', token: expect.stringMatching(/^[\w-]+\.[\w-]+\.[\w-]+$/), expiresAt: expect.any(String) } });
    expect(Date.parse(minted.body.expiresAt) - Date.now()).toBeLessThanOrEqual(600_000);
    expect((await vote(signed, minted.body.token, { target: target(), value: 1 })).body).toMatchObject({ voter: 'cy' });
    const server = await call(app, 'POST', '/v1/polls/votes/votes', { key: signed.secretKey, body: { target: target(), voter: 'anyone', value: 1 } });
    expect(server).toMatchObject({ status: 200, body: { voter: 'anyone' } });
  });

  it('mints no anonymous voters', async () => {
    expect(await call(app, 'POST', '/v1/voters', { key: signed.publicKey })).toMatchObject({ status: 403 });
  });
});

describe('an anonymous project', () => {
  it('mints a random voter whose token votes and reads as that voter only', async () => {
    const project = await createProjectOverHttp(app, 'anonymous', polls);
    await call(app, 'PATCH', '/v1/projects/current', { key: project.secretKey, body: { voterPolicy: 'anonymous' } });
    const minted = await call(app, 'POST', '/v1/voters', { key: project.publicKey });
    expect(minted).toMatchObject({ status: 201, body: { voter: expect.stringMatching(/^anon-/), token: expect.any(String), expiresAt: expect.any(String) } });
    const again = await call(app, 'POST', '/v1/voters', { key: project.publicKey });
    expect(again.body.voter).not.toBe(minted.body.voter);
    const post = target();
    expect((await vote(project, undefined, { target: post, voter: 'invented', value: 1 })).body).toMatchObject({ voterPolicy: 'anonymous' });
    const cast = await vote(project, minted.body.token, { target: post, value: 1 });
    expect(cast.body).toMatchObject({ voter: minted.body.voter, changed: true });
    expect((await read(project, minted.body.token, `${post}?voter=${minted.body.voter}&minPosition=${cast.body.position}&waitMs=10000`)).body).toMatchObject({ count: 1, voterValue: 1 });
    expect((await read(project, again.body.token, `${post}?voter=${minted.body.voter}`)).status).toBe(403);
  });
});

describe('an open project', () => {
  it('keeps taking any voter id, with or without a token', async () => {
    expect((await vote(other, undefined, { target: target(), voter: 'whoever', value: 1 })).status).toBe(200);
    expect((await vote(other, 'ignored', { target: target(), voter: 'whoever', value: 1 })).status).toBe(200);
    expect((await vote(other, undefined, { target: target(), value: 1 })).body).toMatchObject({ errors: [{ field: 'voter', message: 'is missing' }] });
  });
});
