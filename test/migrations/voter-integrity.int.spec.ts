import { createHash, randomUUID } from 'node:crypto';
import { Migrator, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findProjectByKey } from '../../src/catalog/projects.js';
import { migrations } from '../../migrations/index.js';
import { type TestDatabase, testEngines } from '../support/database.js';

const engines = await testEngines(2);
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

describe.each(engines)('moving keys into project_keys on $engine', ({ open }) => {
  let database: TestDatabase;
  const project = { id: randomUUID(), publicKey: 'cv_pk_existingPublicKey0123456', secretKey: 'cv_sk_existingSecretKey0123456789abcdefghijklmnopq' };

  beforeAll(async () => {
    database = await open();
    const migrator = new Migrator({ db: database.db, provider: { getMigrations: async () => migrations } });
    await migrator.migrateTo('2026-11-26T1400-index-events-by-time');
    await sql`insert into projects (id, name, public_key, secret_key_hash) values (${project.id}, 'old', ${project.publicKey}, ${sha256(project.secretKey)})`.execute(database.db);
    const { error } = await migrator.migrateToLatest();
    if (error !== undefined) throw error;
  });

  afterAll(() => database.dispose());

  it('keeps both keys of an existing project working, open and unrestricted', async () => {
    const viaPublic = await findProjectByKey(database.db, project.publicKey);
    const viaSecret = await findProjectByKey(database.db, project.secretKey);
    expect(viaPublic).toMatchObject({ id: project.id, access: 'public', voterPolicy: 'open', allowedOrigins: [], rateLimits: {} });
    expect(viaSecret).toMatchObject({ id: project.id, access: 'secret' });
    // Votes cast before the move named the public key by this fingerprint: it stays the same.
    expect(viaPublic!.keyId).toBe(`cv_pk_${sha256(`fingerprint:${project.publicKey}`).slice(0, 12)}`);
    expect(viaSecret!.keyId).toMatch(/^cv_sk_[0-9a-f]{12}$/);
    expect(Buffer.from(viaSecret!.tokenKeys[0]!.secret).toString('hex')).toBe(sha256(project.secretKey));
  });
});
