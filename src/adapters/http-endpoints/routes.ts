import { text, type HttpRoute } from './http-endpoints.js';

/** What `/metrics` reads: the exposition text and its Content-Type (the Prometheus adapter is one). */
export interface MetricsExposition {
  scrape(): Promise<string>;
  readonly contentType: string;
}

/** One condition of readiness, named in the `/readyz` body. A check that throws counts as failed. */
export interface ReadinessCheck {
  readonly name: string;
  check(): boolean | Promise<boolean>;
}

/** `/metrics`: the Prometheus text exposition. */
export function metricsRoute(source: MetricsExposition): HttpRoute {
  return async () => ({ status: 200, contentType: source.contentType, body: await source.scrape() });
}

/** `/healthz`: the process is alive and its event loop answers. */
export function healthzRoute(): HttpRoute {
  return () => text(200, 'ok\n');
}

/**
 * A condition `/readyz` reports without requiring it (a provider's health): listed, never the reason
 * for a 503. `reason` is a short fixed word, such as an error type.
 */
export interface ReadinessReport {
  readonly name: string;
  readonly ok: boolean;
  readonly reason?: string;
}

/**
 * `/readyz`: 200 `ok` when every check passes and every report is ok, else one line per check and
 * report (`[+]name ok`, `[-]name failed`, as the Kubernetes API server writes its own; a report adds
 * `: <reason> (reported, not required)`), with 503 only when a check failed; `?verbose` lists them on
 * success too.
 */
export function readyzRoute(checks: readonly ReadinessCheck[], reports: () => readonly ReadinessReport[] = () => []): HttpRoute {
  return async (query) => {
    const results = await Promise.all(checks.map(async (c) => ({ name: c.name, ok: await passes(c) })));
    const reported = reportsOrNone(reports);
    const ready = results.every((r) => r.ok);
    const lines = [
      ...results.map((r) => (r.ok ? `[+]${r.name} ok` : `[-]${r.name} failed`)),
      ...reported.map((r) => (r.ok ? `[+]${r.name} ok` : `[-]${r.name} failed${r.reason ? `: ${r.reason}` : ''} (reported, not required)`)),
    ];
    if (ready && reported.every((r) => r.ok) && !query.has('verbose')) return text(200, 'ok\n');
    return text(ready ? 200 : 503, `${lines.join('\n')}\nreadyz check ${ready ? 'passed' : 'failed'}\n`);
  };
}

function reportsOrNone(reports: () => readonly ReadinessReport[]): readonly ReadinessReport[] {
  try {
    return reports();
  } catch {
    return [];
  }
}

async function passes(readiness: ReadinessCheck): Promise<boolean> {
  try {
    return (await readiness.check()) === true;
  } catch {
    return false;
  }
}
