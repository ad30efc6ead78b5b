import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, createProjectOverHttp, startTestApp, type TestApp } from '../support/app.js';
import { signJwt, voterClaims } from '../support/voter-tokens.js';

let app: TestApp;

beforeAll(async () => {
  app = await startTestApp();
});

afterAll(() => app.close());

const keysOf = async (secretKey: string) => (await call(app, 'GET', '/v1/projects/current', { key: secretKey })).body.keys as { fingerprint: string; kind: string; lastUsedAt: string | null }[];
const vote = (key: string, voter: string, headers: Record<string, string> = {}) =>
  call(app, 'POST', '/v1/polls/likes/votes', { key, body: { target: 'post', voter, value: 1 }, headers });

describe('key management', () => {
  it('rotates a public key: the revoked one gets 401 while its replacement works', async () => {
    const project = await createProjectOverHttp(app, 'rotate-public', { likes: { kind: 'like' } });
    const [oldPublic] = (await keysOf(project.secretKey)).filter((key) => key.kind === 'public');
    const created = await call(app, 'POST', '/v1/projects/current/keys', { key: project.secretKey, body: { kind: 'public' } });
    expect(created).toMatchObject({ status: 201, body: { kind: 'public', key: expect.stringMatching(/^cv_pk_/), fingerprint: expect.stringMatching(/^cv_pk_[0-9a-f]{12}$/) } });
    expect((await vote(created.body.key, 'ann')).status).toBe(200);

    expect((await call(app, 'DELETE', `/v1/projects/current/keys/${oldPublic!.fingerprint}`, { key: project.secretKey })).status).toBe(204);
    expect(await vote(project.publicKey, 'bob')).toMatchObject({ status: 401, body: { type: 'urn:clickvote:problem:unauthenticated' } });
    expect((await vote(created.body.key, 'bob')).status).toBe(200);
    expect((await keysOf(project.secretKey)).map((key) => key.fingerprint)).not.toContain(oldPublic!.fingerprint);
  });

  it('keeps one key of each kind, and says which fingerprint it does not know', async () => {
    const project = await createProjectOverHttp(app, 'last-keys');
    for (const key of await keysOf(project.secretKey)) {
      const refused = await call(app, 'DELETE', `/v1/projects/current/keys/${key.fingerprint}`, { key: project.secretKey });
      expect(refused).toMatchObject({ status: 409, body: { type: 'urn:clickvote:problem:last_key_of_kind' } });
    }
    expect((await call(app, 'DELETE', '/v1/projects/current/keys/cv_pk_000000000000', { key: project.secretKey })).status).toBe(404);
    expect((await call(app, 'DELETE', '/v1/projects/current/keys/nonsense', { key: project.secretKey })).status).toBe(400);
    expect((await call(app, 'POST', '/v1/projects/current/keys', { key: project.secretKey, body: { kind: 'admin' } })).status).toBe(400);
    expect((await call(app, 'POST', '/v1/projects/current/keys', { key: project.publicKey, body: { kind: 'public' } })).status).toBe(403);
  });

  it('rotates a secret key: tokens signed with the old one keep working until it is revoked', async () => {
    const project = await createProjectOverHttp(app, 'rotate-secret', { likes: { kind: 'like' } });
    await call(app, 'PATCH', '/v1/projects/current', { key: project.secretKey, body: { voterPolicy: 'signed' } });
    const [oldSecret] = (await keysOf(project.secretKey)).filter((key) => key.kind === 'secret');
    const oldToken = signJwt(voterClaims('ann', project.id), project.secretKey);
    const newSecret = (await call(app, 'POST', '/v1/projects/current/keys', { key: project.secretKey, body: { kind: 'secret' } })).body;
    expect((await vote(project.publicKey, 'ann', { 'clickvote-voter': oldToken })).status).toBe(200);
    const minted = await call(app, 'POST', '/v1/voter-tokens', { key: newSecret.key, body: { voter: 'cy' } });
    expect(JSON.parse(Buffer.from(minted.body.token.split('.')[0], 'base64url').toString())).toMatchObject({ kid: newSecret.fingerprint });

    expect((await call(app, 'DELETE', `/v1/projects/current/keys/${oldSecret!.fingerprint}`, { key: newSecret.key })).status).toBe(204);
    expect((await vote(project.publicKey, 'ann', { 'clickvote-voter': oldToken })).status).toBe(401);
    expect((await call(app, 'GET', '/v1/projects/current', { key: project.secretKey })).status).toBe(401);
    expect((await vote(project.publicKey, 'cy', { 'clickvote-voter': minted.body.token })).status).toBe(200);
    expect((await vote(project.publicKey, 'dee', { 'clickvote-voter': signJwt(voterClaims('dee', project.id), newSecret.key) })).status).toBe(200);
  });

  it('shows when each key was last used, without writing on every request', async () => {
    const project = await createProjectOverHttp(app, 'last-used', { likes: { kind: 'like' } });
    const [publicKey] = (await keysOf(project.secretKey)).filter((key) => key.kind === 'public');
    expect(publicKey!.lastUsedAt).toBeNull();
    const startedAt = Date.now();
    await vote(project.publicKey, 'ann');
    const row = await app.database.db.selectFrom('project_keys').select('last_used_at').where('fingerprint', '=', publicKey!.fingerprint).executeTakeFirstOrThrow();
    expect(row.last_used_at).toBeNull();
    const [used] = (await keysOf(project.secretKey)).filter((key) => key.kind === 'public');
    expect(Date.parse(used!.lastUsedAt!)).toBeGreaterThanOrEqual(startedAt - 1000);
  });
});
