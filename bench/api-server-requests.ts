import { request } from 'node:https';

/** The resources a Secrets Store CSI driver reads or writes: requests to others (leases, the bench's namespaces) are not the driver's. */
const DRIVER_RESOURCES = new Set(['pods', 'secretproviderclasses', 'secretproviderclasspodstatuses', 'secrets', 'events', 'serviceaccounts', 'csidrivers']);
const READ_VERBS = new Set(['GET', 'LIST']);
const WRITE_VERBS = new Set(['POST', 'PUT', 'PATCH', 'DELETE', 'APPLY', 'DELETECOLLECTION']);

export interface RequestCounts {
  /** GET + LIST of the driver's resources. */
  readonly reads: number;
  /** POST, PUT, PATCH, DELETE (and APPLY, DELETECOLLECTION) of the driver's resources. */
  readonly writes: number;
}

/** Counts between two readings of `apiserver_request_total`. */
export function countsSince(before: RequestCounts, after: RequestCounts): RequestCounts {
  return { reads: after.reads - before.reads, writes: after.writes - before.writes };
}

/**
 * kube-apiserver's own count of the requests it served (`apiserver_request_total` on /metrics), summed
 * over the driver's resources by kind of verb. While one driver runs and the bench sends nothing to
 * those resources, the difference between two readings is that driver's traffic.
 */
export async function apiServerRequests(server: string, token: string): Promise<RequestCounts> {
  const text = await getText(`${server}/metrics`, token);
  let reads = 0;
  let writes = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith('apiserver_request_total{')) continue;
    const labels = Object.fromEntries([...line.matchAll(/(\w+)="([^"]*)"/g)].map(([, key, value]) => [key, value]));
    if (!DRIVER_RESOURCES.has(labels['resource'] ?? '')) continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (READ_VERBS.has(labels['verb'] ?? '')) reads += value;
    else if (WRITE_VERBS.has(labels['verb'] ?? '')) writes += value;
  }
  return { reads, writes };
}

function getText(url: string, token: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(url, { rejectUnauthorized: false, headers: { authorization: `Bearer ${token}` } }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`GET ${url}: HTTP ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end();
  });
}
