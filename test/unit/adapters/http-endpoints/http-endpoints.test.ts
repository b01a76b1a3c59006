import { request as httpRequest } from 'node:http';
import { expect } from 'chai';
import { startHttpEndpoints, text, type HttpEndpoints, type HttpRoute } from '../../../../src/adapters/http-endpoints/http-endpoints.js';
import { healthzRoute, metricsRoute, readyzRoute } from '../../../../src/adapters/http-endpoints/routes.js';
import { CollectingLogger } from '../../../support/driver-harness.js';

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/** One HTTP request to 127.0.0.1 (a fresh connection unless `agent` keeps one alive). */
function call(port: number, path: string, method = 'GET'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('http-endpoints startHttpEndpoints', () => {
  const logger = new CollectingLogger();
  let server: HttpEndpoints | undefined;

  async function serve(routes: Record<string, HttpRoute>): Promise<HttpEndpoints> {
    server = await startHttpEndpoints({ name: 'test', address: { host: '127.0.0.1', port: 0 }, routes, logger });
    return server;
  }

  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  it('binds the port the system chose for port 0 and says where', async () => {
    const { port, address } = await serve({ '/x': () => text(200, 'x') });
    expect(port).to.be.greaterThan(0);
    expect(address).to.equal(`127.0.0.1:${port}`);
    expect(logger.lines.some((line) => line.includes('http endpoints listening') && line.includes(address))).to.equal(true);
  });

  it('answers a route with its status, content type and body, never cached', async () => {
    const { port } = await serve({ '/x': () => ({ status: 201, contentType: 'text/x', body: 'hello' }) });
    const answer = await call(port, '/x');
    expect(answer).to.deep.include({ status: 201, body: 'hello' });
    expect(answer.headers).to.include({ 'content-type': 'text/x', 'content-length': '5', 'cache-control': 'no-store' });
  });

  it('passes the query string to the route and matches the path without it', async () => {
    const { port } = await serve({ '/q': (query) => text(200, query.get('a') ?? '-') });
    expect((await call(port, '/q?a=b')).body).to.equal('b');
  });

  it('answers 404 for an unknown path, also for inherited object keys', async () => {
    const { port } = await serve({ '/x': () => text(200, 'x') });
    for (const path of ['/', '/y', '/x/', '/constructor', '/__proto__']) expect((await call(port, path)).status, path).to.equal(404);
  });

  it('answers 405 naming GET and HEAD for other methods', async () => {
    const { port } = await serve({ '/x': () => text(200, 'x') });
    for (const method of ['POST', 'PUT', 'DELETE']) {
      const answer = await call(port, '/x', method);
      expect(answer.status, method).to.equal(405);
      expect(answer.headers['allow']).to.equal('GET, HEAD');
    }
  });

  it('answers HEAD with the headers of GET and no body', async () => {
    const { port } = await serve({ '/x': () => text(200, 'twelve bytes') });
    const answer = await call(port, '/x', 'HEAD');
    expect(answer).to.deep.include({ status: 200, body: '' });
    expect(answer.headers['content-length']).to.equal('12');
  });

  it('answers 500 when a route throws, logs it, and keeps serving', async () => {
    let calls = 0;
    const { port } = await serve({
      '/x': () => {
        calls += 1;
        if (calls === 1) throw new Error('scrape failed');
        return text(200, 'fine');
      },
    });
    expect(await call(port, '/x')).to.deep.include({ status: 500, body: 'internal error\n' });
    expect(logger.lines.filter((line) => line.startsWith('error http endpoint failed') && line.includes('"server":"test"'))).to.have.length(1);
    expect(await call(port, '/x')).to.deep.include({ status: 200, body: 'fine' });
  });

  it('fails to start with a message naming the server and the address when the port is taken', async () => {
    const { port } = await serve({});
    try {
      await startHttpEndpoints({ name: 'metrics', address: { host: '127.0.0.1', port }, routes: {}, logger });
      expect.fail('expected the second bind to fail');
    } catch (error) {
      expect((error as Error).message).to.equal(`metrics endpoint cannot listen on 127.0.0.1:${port}: address already in use`);
    }
  });

  it('stops listening on stop, and a second stop does nothing', async () => {
    const started = await serve({ '/x': () => text(200, 'x') });
    await started.stop();
    await started.stop();
    server = undefined;
    let refused = false;
    await call(started.port, '/x').catch((error: NodeJS.ErrnoException) => (refused = error.code === 'ECONNREFUSED'));
    expect(refused).to.equal(true);
  });

  it('stops even while a keep-alive connection is open', async () => {
    const { port, stop } = await serve({ '/x': () => text(200, 'x') });
    const { Agent } = await import('node:http');
    const agent = new Agent({ keepAlive: true });
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, path: '/x', agent }, (res) => {
        res.resume();
        res.on('end', () => resolve());
      });
      req.on('error', reject);
      req.end();
    });
    const started = Date.now();
    await stop(5_000);
    server = undefined;
    expect(Date.now() - started).to.be.lessThan(1_000);
    agent.destroy();
  });
});

describe('http-endpoints routes', () => {
  it('/metrics serves the exposition with its content type', async () => {
    const route = metricsRoute({ scrape: async () => 'a_total 1\n', contentType: 'text/plain; version=0.0.4; charset=utf-8' });
    expect(await route(new URLSearchParams())).to.deep.equal({ status: 200, contentType: 'text/plain; version=0.0.4; charset=utf-8', body: 'a_total 1\n' });
  });

  it('/healthz answers ok', async () => {
    expect(await healthzRoute()(new URLSearchParams())).to.deep.include({ status: 200, body: 'ok\n' });
  });

  describe('/readyz', () => {
    const pass = { name: 'csi-socket', check: () => true };
    const fail = { name: 'cluster-caches', check: () => false };

    it('answers 200 ok when every check passes', async () => {
      expect(await readyzRoute([pass])(new URLSearchParams())).to.deep.include({ status: 200, body: 'ok\n' });
    });

    it('lists the checks on success with ?verbose', async () => {
      const reply = await readyzRoute([pass])(new URLSearchParams('verbose'));
      expect(reply).to.deep.include({ status: 200, body: '[+]csi-socket ok\nreadyz check passed\n' });
    });

    it('answers 503 naming each failed check', async () => {
      const reply = await readyzRoute([pass, fail])(new URLSearchParams());
      expect(reply).to.deep.include({ status: 503, body: '[+]csi-socket ok\n[-]cluster-caches failed\nreadyz check failed\n' });
    });

    it('gives the reason a check returns for failing', async () => {
      const stateFile = { name: 'state-file', check: () => 'writing the state file /s.yaml failed: EROFS: read-only file system' };
      const reply = await readyzRoute([pass, stateFile])(new URLSearchParams());
      expect(reply).to.deep.include({
        status: 503,
        body: '[+]csi-socket ok\n[-]state-file failed: writing the state file /s.yaml failed: EROFS: read-only file system\nreadyz check failed\n',
      });
    });

    it('counts a check that throws or rejects as failed', async () => {
      const throwing = { name: 'a', check: (): boolean => { throw new Error('x'); } };
      const rejecting = { name: 'b', check: () => Promise.reject(new Error('y')) };
      const reply = await readyzRoute([throwing, rejecting])(new URLSearchParams());
      expect(reply.status).to.equal(503);
      expect(reply.body).to.contain('[-]a failed').and.contain('[-]b failed');
    });

    it('waits for asynchronous checks', async () => {
      const later = { name: 'later', check: () => new Promise<boolean>((resolve) => setTimeout(() => resolve(true), 5)) };
      expect((await readyzRoute([later])(new URLSearchParams())).status).to.equal(200);
    });

    describe('reports (provider health): listed, never required', () => {
      const vaultDown = { name: 'provider-vault', ok: false, reason: 'ProviderUnavailable' };
      const azureUp = { name: 'provider-azure', ok: true };

      it('stays 200 with a failed report, listing every check and report even without ?verbose', async () => {
        const reply = await readyzRoute([pass], () => [azureUp, vaultDown])(new URLSearchParams());
        expect(reply).to.deep.include({
          status: 200,
          body: '[+]csi-socket ok\n[+]provider-azure ok\n[-]provider-vault failed: ProviderUnavailable (reported, not required)\nreadyz check passed\n',
        });
      });

      it('answers plain ok when the checks pass and every report is ok', async () => {
        expect(await readyzRoute([pass], () => [azureUp])(new URLSearchParams())).to.deep.include({ status: 200, body: 'ok\n' });
      });

      it('is 503 only for a failed check, whatever the reports say', async () => {
        const reply = await readyzRoute([fail], () => [azureUp])(new URLSearchParams());
        expect(reply).to.deep.include({ status: 503, body: '[-]cluster-caches failed\n[+]provider-azure ok\nreadyz check failed\n' });
      });

      it('lists no report when reading them throws', async () => {
        const reply = await readyzRoute([pass], () => { throw new Error('x'); })(new URLSearchParams('verbose'));
        expect(reply).to.deep.include({ status: 200, body: '[+]csi-socket ok\nreadyz check passed\n' });
      });
    });
  });
});
