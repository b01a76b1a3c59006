import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FakeFailure, FakeProviderState } from './fake-provider-state.js';

/** The fake provider's HTTP control endpoint, bound to loopback only. */
export interface ControlEndpoint {
  readonly url: string;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 1 << 20;

/**
 * Serves, on 127.0.0.1:<port>:
 * `GET /state` -> {mountCount, versionCount, mountsInFlight, cancelledMounts, failure, objects: [{name, version}]} (never contents),
 * `GET /mount-times` -> {times: [ms since the epoch of the latest Mount calls, oldest first]},
 * `POST /rotate` {name, contents?} -> {name, version}, or {objects: [{name, contents?}]} -> {objects: [{name, version}]}
 *   (all rotated at once),
 * `PUT /failure` FakeFailure -> 204, `DELETE /failure` -> 204.
 */
export async function startControlEndpoint(state: FakeProviderState, port: number): Promise<ControlEndpoint> {
  const server = createServer((request, response) => {
    handle(state, request).then(
      ({ statusCode, body }) => reply(response, statusCode, body),
      (error: unknown) => reply(response, 400, { error: error instanceof Error ? error.message : 'bad request' }),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const { port: boundPort } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${boundPort}`,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

interface Reply {
  readonly statusCode: number;
  readonly body?: unknown;
}

async function handle(state: FakeProviderState, request: IncomingMessage): Promise<Reply> {
  const route = `${request.method} ${new URL(request.url ?? '/', 'http://localhost').pathname}`;
  switch (route) {
    case 'GET /state':
      return {
        statusCode: 200,
        body: {
          mountCount: state.mountCount,
          versionCount: state.versionCount,
          mountsInFlight: state.mountsInFlight,
          cancelledMounts: state.cancelledMounts,
          failure: state.failure ?? null,
          objects: state.store.versions(),
        },
      };
    case 'GET /mount-times':
      return { statusCode: 200, body: { times: state.mountTimes } };
    case 'POST /rotate': {
      const body = (await readJson(request)) as { objects?: unknown };
      if (!Array.isArray(body.objects)) return { statusCode: 200, body: rotate(state, checkedRotation(body)) };
      // Several objects at once: no Mount answer sees some of them rotated and others not.
      const changes = body.objects.map(checkedRotation);
      return { statusCode: 200, body: { objects: changes.map((change) => rotate(state, change)) } };
    }
    case 'PUT /failure':
      state.failure = (await readJson(request)) as FakeFailure;
      return { statusCode: 204 };
    case 'DELETE /failure':
      state.failure = undefined;
      return { statusCode: 204 };
    default:
      return { statusCode: 404, body: { error: `no route ${route}` } };
  }
}

function checkedRotation(change: unknown): { name: string; contents?: string } {
  const { name, contents } = (change ?? {}) as { name?: unknown; contents?: unknown };
  if (typeof name !== 'string' || name === '') throw new Error('rotate needs a non-empty "name"');
  return typeof contents === 'string' ? { name, contents } : { name };
}

function rotate(state: FakeProviderState, { name, contents }: { name: string; contents?: string }): { name: string; version: string } {
  return { name, version: state.store.rotate(name, contents).version };
}

async function readJson(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new Error('request body too large');
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  return text === '' ? {} : JSON.parse(text);
}

function reply(response: ServerResponse, statusCode: number, body: unknown): void {
  if (body === undefined) {
    response.writeHead(statusCode).end();
    return;
  }
  response.writeHead(statusCode, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}
