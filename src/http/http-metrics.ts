import { Histogram, type Registry } from 'prom-client';
import type { Request, RequestHandler, Response } from 'express';

type Labels = Readonly<{ method: string; route: string; status: string }>;

const requestStarted = Symbol('requestStarted');

/**
 * Request durations by route pattern (never the raw path: ids would explode the label set).
 * Each series' labels are built once and reused, and the listener is one shared function, so a
 * request allocates nothing here but its start time.
 */
export function httpMetrics(registry: Registry): RequestHandler {
  const duration = new Histogram({
    name: 'clickvote_http_request_duration_seconds',
    help: 'HTTP request duration by method, route and status',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const series = new SeriesLabels();
  function observe(this: Response & { [requestStarted]: number }): void {
    duration.observe(series.of(this.req, this.statusCode), (performance.now() - this[requestStarted]) / 1000);
  }
  return (_req, res, next) => {
    (res as Response & { [requestStarted]: number })[requestStarted] = performance.now();
    res.on('finish', observe);
    next();
  };
}

/** Label sets by route object, method and status; routes are few and fixed, so this stays small. */
class SeriesLabels {
  private readonly byRoute = new Map<unknown, Map<string, Labels>>();

  of(req: Request, statusCode: number): Labels {
    const route: { path?: unknown } | undefined = req.route;
    let known = this.byRoute.get(route);
    if (known === undefined) this.byRoute.set(route, (known = new Map()));
    const key = `${req.method} ${statusCode}`;
    let labels = known.get(key);
    if (labels === undefined) {
      const pattern = route === undefined ? 'unmatched' : `${req.baseUrl}${String(route.path)}`;
      labels = { method: req.method, route: pattern, status: String(statusCode) };
      known.set(key, labels);
    }
    return labels;
  }
}
