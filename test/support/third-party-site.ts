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

/**
 * A plain blog page as its owner would write it, with the widget's script tag pasted in: the
 * screenshots show the widget among someone else's styles, in light and dark.
 */
export function blogPage(body: string, scriptTag: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="color-scheme" content="light dark"><title>A plain blog</title></head>
<body style="font:18px/1.6 Georgia,serif;max-width:40rem;margin:2rem auto;padding:0 1rem">
<header style="border-bottom:1px solid #8884;margin-bottom:1.5rem"><h1 style="font-size:1.6rem;margin:0">A plain blog</h1><p style="margin:.25rem 0 1rem;opacity:.7">on another origin than the votes</p></header>
${body}
${scriptTag}
</body></html>`;
}
