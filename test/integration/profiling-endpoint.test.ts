import { expect } from 'chai';
import type { HttpEndpoints } from '../../src/adapters/http-endpoints/http-endpoints.js';
import { startProfilingEndpoint } from '../../src/app/observability.js';
import { CollectingLogger } from '../support/driver-harness.js';

/** `--enable-pprof`: Node's CPU profile and heap snapshot over HTTP, on loopback only. */
describe('integration: the profiling endpoint (--enable-pprof)', function () {
  this.timeout(60_000);
  let endpoint: HttpEndpoints;

  before(async () => {
    endpoint = await startProfilingEndpoint(0, new CollectingLogger());
  });
  after(() => endpoint.stop());

  const get = (path: string): Promise<Response> => fetch(`http://127.0.0.1:${endpoint.port}${path}`, { signal: AbortSignal.timeout(30_000) });

  it('listens on loopback only', () => {
    expect(endpoint.address).to.equal(`127.0.0.1:${endpoint.port}`);
  });

  it('lists what it serves at /debug/pprof/', async () => {
    const body = await (await get('/debug/pprof/')).text();
    expect(body).to.contain('/debug/pprof/profile?seconds=N').and.contain('/debug/pprof/heap');
  });

  it('answers a V8 CPU profile covering the seconds asked for', async () => {
    const response = await get('/debug/pprof/profile?seconds=1');
    expect(response.status).to.equal(200);
    const profile = (await response.json()) as { nodes: unknown[]; startTime: number; endTime: number; samples: number[] };
    expect(profile.nodes.length).to.be.greaterThan(0);
    // V8 profile times are microseconds.
    expect(profile.endTime - profile.startTime).to.be.at.least(900_000);
  });

  it('takes one CPU profile at a time: of two asked together, one answers 409', async () => {
    const responses = await Promise.all([get('/debug/pprof/profile?seconds=1'), get('/debug/pprof/profile?seconds=1')]);
    expect(responses.map((response) => response.status).sort()).to.deep.equal([200, 409]);
    const refused = responses.find((response) => response.status === 409)!;
    expect(await refused.text()).to.contain('a CPU profile is already being taken');
  });

  for (const seconds of ['0', '601', 'x', '1.5']) {
    it(`refuses seconds=${seconds} with 400`, async () => {
      const response = await get(`/debug/pprof/profile?seconds=${seconds}`);
      expect(response.status).to.equal(400);
      expect(await response.text()).to.contain('seconds must be a whole number from 1 to 600');
    });
  }

  it('answers a V8 heap snapshot', async () => {
    const response = await get('/debug/pprof/heap');
    expect(response.status).to.equal(200);
    const snapshot = (await response.json()) as { snapshot: { node_count: number }; strings: string[] };
    expect(snapshot.snapshot.node_count).to.be.greaterThan(1000);
    expect(snapshot.strings.length).to.be.greaterThan(100);
  });
});
