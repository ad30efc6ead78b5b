import { readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';

/** What an operator expects of compose.yaml and deploy/k8s before running them in production. */
const root = path.resolve(import.meta.dirname, '../..');
const ourImage = 'ghcr.io/clickvote-es/clickvote-es';
const read = (file: string) => readFile(path.join(root, file), 'utf8');
const release = async () => (JSON.parse(await read('package.json')) as { version: string }).version;

const kubernetes = async (): Promise<Record<string, any>[]> => {
  const files = readdirSync(path.join(root, 'deploy/k8s')).filter((file) => file.endsWith('.yaml') && file !== 'kustomization.yaml');
  return (await Promise.all(files.map(async (file) => parseAllDocuments(await read(`deploy/k8s/${file}`)).map((doc) => doc.toJS())))).flat();
};

describe('the deployment files', () => {
  it('never run `latest`: compose and Kubernetes pin the release version', async () => {
    const version = await release();
    const compose = parse(await read('compose.yaml'), { merge: true }) as { services: Record<string, { image: string; build?: unknown }> };
    const ours = Object.values(compose.services).filter((service) => service.build !== undefined);
    expect(ours.length).toBeGreaterThan(0);
    for (const service of ours) expect(service.image).toBe(`\${CLICKVOTE_IMAGE:-${ourImage}}:\${CLICKVOTE_VERSION:-${version}}`);

    const containers = (await kubernetes()).flatMap((manifest) => manifest.spec?.template?.spec?.containers ?? []);
    expect(containers.length).toBe(3);
    for (const container of containers) expect(container.image).toBe(`${ourImage}:${version}`);
    const kustomization = parse(await read('deploy/k8s/kustomization.yaml')) as { images: { name: string; newTag: string }[] };
    expect(kustomization.images).toEqual([{ name: ourImage, newTag: version }]);

    for (const file of ['compose.yaml', '.env.example', ...readdirSync(path.join(root, 'deploy/k8s')).map((file) => `deploy/k8s/${file}`)]) {
      expect({ file, latest: /:latest\b/.test(await read(file)) }).toEqual({ file, latest: false });
    }
  });

  it('let the migration Job be applied again with a new version: its name carries the version', async () => {
    const job = (await kubernetes()).find((manifest) => manifest.kind === 'Job')!;
    expect(job.metadata.name).toBe(`clickvote-migrate-${await release()}`);
    expect(job.spec.ttlSecondsAfterFinished).toBeGreaterThan(0);
  });

  it('give every compose service CPU and memory limits', async () => {
    const compose = parse(await read('compose.yaml'), { merge: true }) as { services: Record<string, { deploy?: { resources?: { limits?: Record<string, string> } } }> };
    for (const [name, service] of Object.entries(compose.services)) {
      expect({ name, limits: Object.keys(service.deploy?.resources?.limits ?? {}).sort() }).toEqual({ name, limits: ['cpus', 'memory'] });
    }
  });
});
