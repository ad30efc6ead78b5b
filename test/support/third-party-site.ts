import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A site on another origin than the API, as a blog that embeds the widget would be: pages by path. */
export interface ThirdPartySite {
  readonly origin: string;
  readonly pages: Map<string, string>;
  close(): void;
}

export async function startThirdPartySite(): Promise<ThirdPartySite> {
  const pages = new Map<string, string>();
  const server = createServer((req, res) => {
    const page = pages.get(req.url ?? '');
    res.writeHead(page === undefined ? 404 : 200, { 'content-type': 'text/html' }).end(page ?? 'not found');
  }).listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, pages, close: () => server.close() };
}
