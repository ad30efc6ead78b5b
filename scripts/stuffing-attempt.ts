// The ballot-stuffing attempt of issue 12, repeated against a running service: one client, one
// public key, a loop casting votes for ~10 s. Usage:
//   CLICKVOTE_URL=http://127.0.0.1:3000 ADMIN_TOKEN=… npx tsx scripts/stuffing-attempt.ts [seconds]
const baseUrl = process.env.CLICKVOTE_URL ?? 'http://127.0.0.1:3000';
const adminToken = process.env.ADMIN_TOKEN ?? '';
const seconds = Number(process.argv[2] ?? 10);

type Project = { id: string; publicKey: string; secretKey: string };

async function api(path: string, key: string, method = 'GET', body?: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(baseUrl + path, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text === '' ? undefined : JSON.parse(text) };
}

async function projectWithPolicy(voterPolicy: string): Promise<Project> {
  const project = (await api('/v1/projects', adminToken, 'POST', { name: `stuffing-${voterPolicy}` })).body as Project;
  await api('/v1/polls/likes', project.secretKey, 'PUT', { kind: 'like' });
  await api('/v1/projects/current', project.secretKey, 'PATCH', { voterPolicy });
  return project;
}

/** Casts votes in a loop until time is up; `prepare` may fetch what the next vote sends. */
async function stuff(project: Project, prepare: (i: number) => Promise<{ voter?: string; token?: string } | undefined>) {
  const outcomes = new Map<string, number>();
  const count = (what: string) => outcomes.set(what, (outcomes.get(what) ?? 0) + 1);
  const until = Date.now() + seconds * 1000;
  for (let i = 0; Date.now() < until; i += 1) {
    const ballot = await prepare(i);
    if (ballot === undefined) continue;
    const headers = ballot.token === undefined ? {} : { 'clickvote-voter': ballot.token };
    const answer = await api('/v1/polls/likes/votes', project.publicKey, 'POST', { target: 'post-1', voter: ballot.voter, value: 1 }, headers);
    count(answer.status === 200 ? 'accepted' : `${answer.status} ${String(answer.body?.type ?? '').split(':').pop()}`);
  }
  const tally = (await api('/v1/polls/likes/tallies/post-1', project.publicKey)).body as { count: number };
  return { ...Object.fromEntries(outcomes), tallyCount: tally.count };
}

const results: Record<string, unknown> = {};
const invented = async (i: number) => ({ voter: `sock-${i}` });
results['open, invented voter ids'] = await stuff(await projectWithPolicy('open'), invented);
results['signed, invented voter ids'] = await stuff(await projectWithPolicy('signed'), invented);
const anonymous = await projectWithPolicy('anonymous');
results['anonymous, invented voter ids'] = await stuff(anonymous, invented);
const mints = new Map<string, number>();
const anonymous2 = await projectWithPolicy('anonymous');
// The smarter attacker: mint a fresh anonymous voter before every vote.
results['anonymous, a freshly minted voter per vote'] = await stuff(anonymous2, async () => {
  const minted = await api('/v1/voters', anonymous2.publicKey, 'POST');
  const what = minted.status === 201 ? 'minted' : `${minted.status} ${String(minted.body?.type ?? '').split(':').pop()}`;
  mints.set(what, (mints.get(what) ?? 0) + 1);
  return minted.status === 201 ? { token: minted.body.token } : undefined;
});
results['anonymous mint answers'] = Object.fromEntries(mints);
console.log(JSON.stringify(results, null, 2));
