import type { Server } from 'node:http';

/**
 * Stops accepting connections and waits for the requests in flight, closing keep-alive
 * connections as they fall idle; whatever is still open at the deadline is cut.
 */
export function drainHttpServer(server: Server, deadlineMs: number): Promise<void> {
  return new Promise((resolve) => {
    const idle = setInterval(() => server.closeIdleConnections(), 50);
    const cut = setTimeout(() => server.closeAllConnections(), deadlineMs);
    server.close(() => {
      clearInterval(idle);
      clearTimeout(cut);
      resolve();
    });
    server.closeIdleConnections();
  });
}

/** Runs `stop` once for the first SIGTERM or SIGINT, and ends the process by its outcome. */
export function onTerminationSignal(stop: (signal: string) => Promise<void>, hardDeadlineMs: number, onStuck: () => void): void {
  let stopping = false;
  const handle = (signal: string) => {
    if (stopping) return;
    stopping = true;
    setTimeout(() => {
      onStuck();
      process.exit(1);
    }, hardDeadlineMs).unref();
    stop(signal).then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', () => handle('SIGTERM'));
  process.on('SIGINT', () => handle('SIGINT'));
}
