import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { VoteAppender } from '../../src/commands/vote-appender.js';
import { createApp } from '../../src/http/app.js';
import { createTestDatabase, type TestDatabase } from './database.js';

export interface TestApp {
  readonly baseUrl: string;
  readonly database: TestDatabase;
  readonly adminToken: string;
  close(): Promise<void>;
}

/** The real app, in process on a free port, over this test file's own database. */
export async function startTestApp(): Promise<TestApp> {
  const database = await createTestDatabase();
  const adminToken = 'test-admin-token-0123456789';
  const appender = new VoteAppender(database.db, { windowMs: 2, maxBatch: 128, maxConcurrentBatches: 4 });
  const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const server = createApp({ db: database.db, appender, logger, adminToken }).listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    database,
    adminToken,
    close: async () => {
      await new Promise((resolve) => {
        server.close(resolve);
        server.closeAllConnections();
      });
      await appender.close();
      await database.dispose();
    },
  };
}

export interface CallOptions {
  readonly key?: string;
  readonly body?: unknown;
  readonly rawBody?: string;
  readonly contentType?: string;
  readonly headers?: Record<string, string>;
}

export async function call(app: TestApp, method: string, path: string, options: CallOptions = {}) {
  const headers: Record<string, string> = { ...options.headers };
  if (options.key !== undefined) headers.authorization = `Bearer ${options.key}`;
  const body = options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  if (body !== undefined) headers['content-type'] = options.contentType ?? 'application/json';
  const response = await fetch(app.baseUrl + path, { method, headers, body });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text === '' ? undefined : (JSON.parse(text) as any) };
}
