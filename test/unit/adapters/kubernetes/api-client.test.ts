import { expect } from 'chai';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiClient, ApiStatusError } from '../../../../src/adapters/kubernetes/api-client.js';
import { apiFailure } from '../../../../src/adapters/kubernetes/api-errors.js';

interface Seen {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** The API client against a plain HTTP server that records each request and answers as scripted. */
describe('ApiClient', () => {
  let server: Server;
  let seen: Seen[];
  let answer: (request: Seen) => { status: number; body: string };
  let client: ApiClient;

  beforeEach(async () => {
    seen = [];
    answer = () => ({ status: 200, body: '{}' });
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const request = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
        seen.push(request);
        const { status, body } = answer(request);
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const credentials = { server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, tls: {}, headers: async () => ({ Authorization: 'Bearer t0k3n' }) };
    client = new ApiClient(credentials, { userAgent: 'secrets-store-csi/1.2.3' });
  });

  afterEach(async () => {
    client.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('names the driver in User-Agent and authenticates every request', async () => {
    await client.get('/api/v1/namespaces/default/pods/app-0');
    await client.create('/api/v1/namespaces/default/events', { kind: 'Event' });
    for (const request of seen) {
      expect(request.headers['user-agent']).to.equal('secrets-store-csi/1.2.3');
      expect(request.headers['authorization']).to.equal('Bearer t0k3n');
      expect(request.headers['accept']).to.equal('application/json');
    }
  });

  it('sends the query, leaving out empty values', async () => {
    await client.get('/api/v1/pods', { fieldSelector: 'spec.nodeName=node-1', labelSelector: '', limit: 5, resourceVersion: undefined });
    const url = new URL(seen[0]!.url, 'http://x');
    expect(url.pathname).to.equal('/api/v1/pods');
    expect([...url.searchParams.entries()]).to.deep.equal([
      ['fieldSelector', 'spec.nodeName=node-1'],
      ['limit', '5'],
    ]);
  });

  const writes = [
    { name: 'create', call: (c: ApiClient) => c.create('/p', { a: 1 }), method: 'POST', type: 'application/json' },
    { name: 'replace', call: (c: ApiClient) => c.replace('/p', { a: 1 }), method: 'PUT', type: 'application/json' },
    { name: 'mergePatch', call: (c: ApiClient) => c.mergePatch('/p', { a: 1 }), method: 'PATCH', type: 'application/merge-patch+json' },
  ];
  for (const { name, call, method, type } of writes) {
    it(`${name} sends the body as JSON with ${method} and Content-Type ${type}`, async () => {
      answer = () => ({ status: 201, body: '{"metadata":{"name":"p"}}' });
      expect(await call(client)).to.deep.equal({ metadata: { name: 'p' } });
      expect(seen[0]).to.deep.include({ method, body: '{"a":1}' });
      expect(seen[0]!.headers['content-type']).to.equal(type);
    });
  }

  it('rejects a non-2xx answer with its code and the Status the API server sent', async () => {
    answer = () => ({ status: 409, body: '{"kind":"Status","reason":"AlreadyExists","message":"secrets \\"db\\" already exists"}' });
    const error = await client.create('/api/v1/namespaces/default/secrets', {}).then(
      () => undefined,
      (rejection: unknown) => rejection,
    );
    expect(error).to.be.instanceOf(ApiStatusError);
    expect(apiFailure(error)).to.deep.equal({ code: 409, reason: 'AlreadyExists', message: 'secrets "db" already exists' });
  });

  it('delivers watch events line by line, then the end of the stream', async () => {
    const events: string[] = [];
    const ended = new Promise<unknown>((resolve) => {
      void client.watch('/api/v1/pods', { resourceVersion: '7' }, (type, object) => events.push(`${type} ${JSON.stringify(object)}`), resolve);
    });
    answer = () => ({ status: 200, body: '{"type":"ADDED","object":{"n":1}}\n\n{"type":"DELETED","object":{"n":2}}\n' });
    expect(await ended).to.equal(null);
    expect(events).to.deep.equal(['ADDED {"n":1}', 'DELETED {"n":2}']);
    expect(new URL(seen[0]!.url, 'http://x').searchParams.get('watch')).to.equal('true');
  });

  it('ends a watch the API server refuses with the refusal', async () => {
    answer = () => ({ status: 403, body: '{"kind":"Status","message":"pods is forbidden"}' });
    const ended = await new Promise<unknown>((resolve) => void client.watch('/api/v1/pods', {}, () => undefined, resolve));
    expect(apiFailure(ended)).to.deep.include({ code: 403, message: 'pods is forbidden' });
  });
});
