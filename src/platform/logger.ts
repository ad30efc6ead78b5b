import { type DestinationStream, pino, type Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import sonicBoom, { type SonicBoom } from 'sonic-boom';

export function createLogger(level: string, destination: DestinationStream = new LogOutput()): Logger {
  return pino(
    {
      level,
      base: { service: 'clickvote' },
      redact: { paths: ['req.headers.authorization', 'req.headers.cookie'], censor: '[redacted]' },
    },
    destination,
  );
}

/**
 * Standard output that never blocks the service. A reader that stops reading (a stuck log
 * shipper, a full pipe) fills a bounded buffer, and lines past it are dropped and counted:
 * losing log lines is better than an event loop frozen in a write, or an exit that waits
 * forever to flush (pino's own destination flushes synchronously at exit).
 */
export class LogOutput implements DestinationStream {
  private readonly stream: SonicBoom;
  private idle = true;
  private dropped = 0;

  constructor(fd = 1, maxBufferedBytes = 1024 * 1024) {
    this.stream = new sonicBoom.SonicBoom({ fd, sync: false, maxLength: maxBufferedBytes });
    this.stream.on('drop', () => (this.dropped += 1));
    this.stream.on('drain', () => (this.idle = true));
    // A reader that went away (EPIPE) leaves nothing to write to; the lines are lost either way.
    this.stream.on('error', () => {});
  }

  write(line: string): void {
    this.idle = false;
    this.stream.write(line);
  }

  get droppedLines(): number {
    return this.dropped;
  }

  /** Waits until the buffered lines are written, or the deadline passes. */
  flush(deadlineMs: number): Promise<void> {
    if (this.idle) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.stream.off('drain', done);
        resolve();
      };
      const timer = setTimeout(done, deadlineMs);
      this.stream.on('drain', done);
    });
  }
}

export function countDroppedLogLines(registry: Registry, output: LogOutput): void {
  new Counter({
    name: 'clickvote_log_lines_dropped_total',
    help: 'Log lines dropped because standard output was not read fast enough',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(output.droppedLines);
    },
  });
}
