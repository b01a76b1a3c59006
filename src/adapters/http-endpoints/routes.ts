import { text, type HttpRoute } from './http-endpoints.js';

/** What `/metrics` reads: the exposition text and its Content-Type (the Prometheus adapter is one). */
export interface MetricsExposition {
  scrape(): Promise<string>;
  readonly contentType: string;
}

/**
 * One condition of readiness, named in the `/readyz` body: true when it holds, false (or the reason, a
 * short text without secrets) when not. A check that throws counts as failed.
 */
export interface ReadinessCheck {
  readonly name: string;
  check(): boolean | string | Promise<boolean | string>;
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
 * report (`[+]name ok`, `[-]name failed`, as the Kubernetes API server writes its own; a check that
 * gave its reason adds `: <reason>`, a report `: <reason> (reported, not required)`), with 503 only
 * when a check failed; `?verbose` lists them on success too.
 */
export function readyzRoute(checks: readonly ReadinessCheck[], reports: () => readonly ReadinessReport[] = () => []): HttpRoute {
  return async (query) => {
    const results = await Promise.all(checks.map(async (c) => ({ name: c.name, result: await outcome(c) })));
    const reported = reportsOrNone(reports);
    const ready = results.every((r) => r.result === true);
    const lines = [
      ...results.map((r) => (r.result === true ? `[+]${r.name} ok` : `[-]${r.name} failed${typeof r.result === 'string' ? `: ${r.result}` : ''}`)),
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

/** true, or why not: the reason the check gave, else false. */
async function outcome(readiness: ReadinessCheck): Promise<boolean | string> {
  try {
    const result = await readiness.check();
    return result === true || (typeof result === 'string' && result !== '' ? result : false);
  } catch {
    return false;
  }
}
