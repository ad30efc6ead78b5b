import { Histogram, type Registry } from 'prom-client';
import type { RequestHandler } from 'express';

/** Request durations by route pattern (never the raw path: ids would explode the label set). */
export function httpMetrics(registry: Registry): RequestHandler {
  const duration = new Histogram({
    name: 'clickvote_http_request_duration_seconds',
    help: 'HTTP request duration by method, route and status',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  return (req, res, next) => {
    const stop = duration.startTimer();
    res.once('finish', () => {
      const route = req.route === undefined ? 'unmatched' : `${req.baseUrl}${String(req.route.path)}`;
      stop({ method: req.method, route, status: String(res.statusCode) });
    });
    next();
  };
}
