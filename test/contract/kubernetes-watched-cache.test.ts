import { expect } from 'chai';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { PodResource } from '../../src/adapters/kube-objects/object-shapes.js';
import { ApiClient, type WatchStarter } from '../../src/adapters/kubernetes/api-client.js';
import { WatchedCache, type ListResult } from '../../src/adapters/kubernetes/watched-cache.js';
import { eventually } from './eventually.js';

/** The reflector behind the class and pod caches, against an HTTP server that scripts each watch. */
describe('WatchedCache against a scripted API server', () => {
  interface WatchRequest {
    readonly params: URLSearchParams;
    readonly response: ServerResponse;
  }

  let server: Server;
  let watches: WatchRequest[];
  let cache: WatchedCache<PodResource> | undefined;
  let api: ApiClient;
  let watch: WatchStarter;

  beforeEach(async () => {
    watches = [];
    server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      res.writeHead(200, { 'content-type': 'application/json' });
      res.flushHeaders();
      watches.push({ params: url.searchParams, response: res });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const credentials = { server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, tls: {}, headers: async () => ({}) };
    api = new ApiClient(credentials, { userAgent: 'watched-cache-test' });
    watch = api.watch;
  });

  afterEach(async () => {
    cache?.stop();
    cache = undefined;
    api.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const pod = (name: string, resourceVersion: string): PodResource => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'ns', resourceVersion } });
  const send = (request: WatchRequest, type: string, object: unknown): void => void request.response.write(`${JSON.stringify({ type, object })}\n`);
  const nthWatch = (n: number): Promise<WatchRequest> =>
    eventually(() => {
      if (watches.length < n) throw new Error(`${watches.length} watch requests so far, waiting for ${n}`);
      return watches[n - 1]!;
    });

  function startCache(lists: ListResult<PodResource>[]): { events: string[]; listCalls: () => number } {
    let calls = 0;
    const events: string[] = [];
    cache = new WatchedCache<PodResource>({
      resource: 'pods',
      path: '/api/v1/pods',
      watch,
      fieldSelector: 'spec.nodeName=node-1',
      retryDelayMs: 10,
      list: async () => {
        const result = lists[Math.min(calls, lists.length - 1)]!;
        calls += 1;
        if (result.resourceVersion === 'fail') throw new Error('list refused');
        return result;
      },
    });
    const current = cache;
    cache.subscribe(({ type, object }) => {
      // Listeners run after the cache holds the change.
      const held = current.get('ns', object.metadata.name)?.metadata.resourceVersion;
      events.push(`${type} ${object.metadata.name}@${object.metadata.resourceVersion} held=${held ?? 'none'}`);
    });
    cache.start();
    return { events, listCalls: () => calls };
  }

  it('watches from the list resourceVersion with bookmarks and the field selector', async () => {
    startCache([{ items: [pod('a', '5')], resourceVersion: '10' }]);
    const first = await nthWatch(1);
    expect(first.params.get('resourceVersion')).to.equal('10');
    expect(first.params.get('allowWatchBookmarks')).to.equal('true');
    expect(first.params.get('fieldSelector')).to.equal('spec.nodeName=node-1');
    expect(cache!.hasSynced()).to.equal(true);
    expect(cache!.get('ns', 'a')?.metadata.resourceVersion).to.equal('5');
  });

  it('resumes a dropped watch from the last resourceVersion it saw, without relisting', async () => {
    const { events, listCalls } = startCache([{ items: [], resourceVersion: '10' }]);
    const first = await nthWatch(1);
    send(first, 'ADDED', pod('a', '11'));
    send(first, 'BOOKMARK', { kind: 'Pod', apiVersion: 'v1', metadata: { resourceVersion: '15' } });
    await eventually(() => expect(cache!.lastResourceVersion()).to.equal('15'));
    first.response.socket?.destroy();
    const second = await nthWatch(2);
    expect(second.params.get('resourceVersion')).to.equal('15');
    send(second, 'MODIFIED', pod('a', '16'));
    send(second, 'DELETED', pod('a', '17'));
    await eventually(() => expect(events).to.deep.equal(['ADDED a@11 held=11', 'MODIFIED a@16 held=16', 'DELETED a@17 held=none']));
    expect(listCalls()).to.equal(1);
  });

  it('tells each change with the object held before it, and keeps only what `keep` returns of each object', async () => {
    const withSecret = (name: string, resourceVersion: string, secret: string): PodResource => ({ ...pod(name, resourceVersion), metadata: { ...pod(name, resourceVersion).metadata, annotations: { secret } } });
    const dropSecret = (object: PodResource): PodResource => ({ ...object, metadata: { ...object.metadata, annotations: {} } });
    cache = new WatchedCache<PodResource>({
      resource: 'pods',
      path: '/api/v1/pods',
      watch,
      retryDelayMs: 10,
      keep: dropSecret,
      list: async () => ({ items: [withSecret('a', '5', 'listed')], resourceVersion: '10' }),
    });
    const seen: string[] = [];
    cache.subscribe(({ type, object, previous }) => seen.push(`${type} ${object.metadata.resourceVersion} after ${previous?.metadata.resourceVersion ?? 'nothing'}`));
    cache.start();
    const first = await nthWatch(1);
    send(first, 'MODIFIED', withSecret('a', '11', 'changed'));
    send(first, 'ADDED', withSecret('b', '12', 'new'));
    send(first, 'DELETED', withSecret('a', '13', 'gone'));
    await eventually(() => expect(seen).to.deep.equal(['ADDED 5 after nothing', 'MODIFIED 11 after 5', 'ADDED 12 after nothing', 'DELETED 13 after 11']));
    expect(JSON.stringify(cache.list())).not.to.match(/listed|changed|new/);
  });

  it('relists after 410 Gone and reports what changed while it was not watching', async () => {
    const { events, listCalls } = startCache([
      { items: [pod('kept', '1'), pod('changed', '2'), pod('removed', '3')], resourceVersion: '10' },
      { items: [pod('kept', '1'), pod('changed', '20'), pod('added', '21')], resourceVersion: '30' },
    ]);
    const first = await nthWatch(1);
    events.length = 0;
    send(first, 'ERROR', { kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 410, reason: 'Expired', message: 'too old resource version' });
    const second = await nthWatch(2);
    expect(listCalls()).to.equal(2);
    expect(second.params.get('resourceVersion')).to.equal('30');
    expect(events).to.have.members(['DELETED removed@3 held=none', 'MODIFIED changed@20 held=20', 'ADDED added@21 held=21']);
    expect(cache!.list().map((object) => object.metadata.name).sort()).to.deep.equal(['added', 'changed', 'kept']);
  });

  it('keeps retrying a failing list and syncs once it succeeds', async () => {
    startCache([
      { items: [], resourceVersion: 'fail' },
      { items: [], resourceVersion: 'fail' },
      { items: [pod('a', '3')], resourceVersion: '7' },
    ]);
    expect(cache!.hasSynced()).to.equal(false);
    await cache!.whenSynced();
    expect(cache!.get('ns', 'a')).not.to.equal(undefined);
    expect((await nthWatch(1)).params.get('resourceVersion')).to.equal('7');
  });

  it('stops watching on stop', async () => {
    startCache([{ items: [], resourceVersion: '10' }]);
    const first = await nthWatch(1);
    cache!.stop();
    await eventually(() => expect(first.response.destroyed || first.response.writableEnded || first.response.socket?.destroyed).to.equal(true));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(watches).to.have.length(1);
  });
});
