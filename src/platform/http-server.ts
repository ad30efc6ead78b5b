import { once } from 'node:events';
import { createServer, type RequestListener, type Server } from 'node:http';

export interface HttpTimeouts {
  /** Time to receive a whole request, headers and body. */
  readonly requestTimeoutMs: number;
  readonly headersTimeoutMs: number;
  /** How long an idle keep-alive connection is kept open. */
  readonly keepAliveTimeoutMs: number;
}

/** A port the service cannot listen on, said in one line the operator can act on. */
export class ListenError extends Error {
  override readonly name = 'ListenError';
}

const listenBacklog = 4096;

/** An HTTP server that cuts clients who send slowly or idle, so none can hold a socket for minutes. */
export async function listenHttp(handler: RequestListener, port: number, host: string, timeouts: HttpTimeouts): Promise<Server> {
  const server = createServer(
    {
      requestTimeout: timeouts.requestTimeoutMs,
      headersTimeout: timeouts.headersTimeoutMs,
      // Node looks for requests past those deadlines only this often (every 30 s by default).
      connectionsCheckingInterval: Math.min(1000, timeouts.headersTimeoutMs),
    },
    handler,
  );
  server.keepAliveTimeout = timeouts.keepAliveTimeoutMs;
  // Node's default backlog (511) resets connections in a burst of a thousand; the kernel caps this at somaxconn.
  server.listen({ port, host, backlog: listenBacklog });
  try {
    await once(server, 'listening'); // rejects on 'error', e.g. a port in use
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new ListenError(`Cannot listen on ${host}:${port}: the port is in use by another process (set PORT or HOST)`);
    if (code === 'EACCES' || code === 'EADDRNOTAVAIL') throw new ListenError(`Cannot listen on ${host}:${port}: ${code} (set PORT or HOST)`);
    throw error;
  }
  return server;
}
