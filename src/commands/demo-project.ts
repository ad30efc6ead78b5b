import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Kysely } from 'kysely';
import type { Database } from '../platform/database.js';
import { definePoll } from './polls.js';
import { type CreatedProject, createProject } from './projects.js';

const demoPolls = [
  { name: 'likes', kind: 'like' },
  { name: 'votes', kind: 'updown' },
  { name: 'stars', kind: 'rating' },
] as const;

export interface DemoProject extends CreatedProject {
  /** True on the start that created it: the one time its secret key is printed. */
  readonly created: boolean;
}

/**
 * The project `npm start` creates on first start so there is something to vote on. Its keys are
 * kept in DATA_DIR (readable by its owner only), so the secret need not be printed again.
 */
export async function ensureDemoProject(db: Kysely<Database>, dataDir: string): Promise<DemoProject> {
  const keysFile = path.join(dataDir, 'demo-project.json');
  const saved = await readSaved(keysFile);
  if (saved !== undefined && (await projectExists(db, saved.id))) return { ...saved, created: false };
  const project = await createProject(db, 'demo');
  for (const poll of demoPolls) await definePoll(db, { projectId: project.id, name: poll.name, kind: poll.kind });
  await fs.mkdir(dataDir, { recursive: true });
  await fs.writeFile(keysFile, JSON.stringify(project, null, 2), { mode: 0o600 });
  return { ...project, created: true };
}

async function readSaved(file: string): Promise<CreatedProject | undefined> {
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as CreatedProject;
  } catch {
    return undefined;
  }
}

async function projectExists(db: Kysely<Database>, id: string): Promise<boolean> {
  return (await db.selectFrom('projects').select('id').where('id', '=', id).executeTakeFirst()) !== undefined;
}
