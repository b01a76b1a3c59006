import { Agent as HttpAgent, request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { ApiCredentials } from './api-credentials.js';
import { apiFailure } from './api-errors.js';

/** An HTTP status other than 2xx from the API server; `body` is its Status object as text, its message the Status message. */
export class ApiStatusError extends Error {
  constructor(
    readonly code: number,
    readonly body: string,
  ) {
    super(`HTTP ${code}: ${apiFailure({ code, body }).message}`);
    this.name = 'ApiStatusError';
  }
}

export type QueryValue = string | number | boolean | undefined;
export type Query = Readonly<Record<string, QueryValue>>;

export interface ApiClientOptions {
  /** Sent as User-Agent, e.g. `secrets-store-csi/0.1.0`: it names the driver in audit logs and managedFields. */
  readonly userAgent: string;
  /** A request that has not answered by then fails (watches excepted). */
  readonly requestTimeoutMs?: number;
}

/** Called for each watch event; `object` is the event's object as the API server sent it. */
export type WatchEventHandler = (type: string, object: unknown) => void;
/** Called once when a watch ends: null when the server closed it, else why it failed. */
export type WatchDoneHandler = (error: unknown) => void;

/** Starts one watch request; resolves with a handle that ends it (no done call follows an abort). */
export type WatchStarter = (path: string, query: Query, onEvent: WatchEventHandler, onDone: WatchDoneHandler) => Promise<{ abort(): void }>;

const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
const JSON_TYPE = 'application/json';
export const MERGE_PATCH_TYPE = 'application/merge-patch+json';

/**
 * A small JSON client of the Kubernetes API over node:http(s) with kept-alive connections: requests
 * take a path and query and return the parsed body; a non-2xx answer rejects with ApiStatusError.
 * Objects stay plain JSON as the API server sends them (no model classes, no date conversion).
 */
export class ApiClient {
  private readonly agent: HttpAgent;
  private readonly base: URL;
  private readonly send: typeof httpRequest;

  constructor(
    private readonly credentials: ApiCredentials,
    private readonly options: ApiClientOptions,
  ) {
    this.base = new URL(credentials.server);
    const secure = this.base.protocol === 'https:';
    this.send = secure ? httpsRequest : httpRequest;
    this.agent = secure ? new HttpsAgent({ keepAlive: true, ...credentials.tls }) : new HttpAgent({ keepAlive: true });
  }

  get<T>(path: string, query: Query = {}): Promise<T> {
    return this.request<T>('GET', path, query);
  }

  create<T>(path: string, body: unknown, query: Query = {}): Promise<T> {
    return this.request<T>('POST', path, query, body, JSON_TYPE);
  }

  replace<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PUT', path, {}, body, JSON_TYPE);
  }

  mergePatch<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PATCH', path, {}, body, MERGE_PATCH_TYPE);
  }

  /** `options` (DeleteOptions: preconditions, grace period) is sent as the body when given. */
  delete(path: string, options?: unknown): Promise<unknown> {
    return this.request('DELETE', path, {}, options, JSON_TYPE);
  }

  /** Closes idle kept-alive connections. */
  close(): void {
    this.agent.destroy();
  }

  readonly watch: WatchStarter = async (path, query, onEvent, onDone) => {
    const headers = await this.headers();
    let aborted = false;
    let done = false;
    const finish = (error: unknown): void => {
      if (done || aborted) return;
      done = true;
      onDone(error);
    };
    const request = this.send(this.url(path, { ...query, watch: true }), { method: 'GET', agent: this.agent, headers }, (response) => {
      if (response.statusCode !== 200) {
        void readBody(response).then(
          (body) => finish(new ApiStatusError(response.statusCode ?? 0, body)),
          (error: unknown) => finish(error),
        );
        return;
      }
      response.setEncoding('utf8');
      let pending = '';
      response.on('data', (chunk: string) => {
        pending += chunk;
        let newline = pending.indexOf('\n');
        while (newline >= 0) {
          const line = pending.slice(0, newline);
          pending = pending.slice(newline + 1);
          if (line.trim() !== '' && !aborted) {
            let event: { type?: unknown; object?: unknown };
            try {
              event = JSON.parse(line) as { type?: unknown; object?: unknown };
            } catch (error) {
              request.destroy();
              finish(error);
              return;
            }
            onEvent(String(event.type), event.object);
          }
          newline = pending.indexOf('\n');
        }
      });
      response.on('end', () => finish(null));
      response.on('error', finish);
    });
    request.on('error', finish);
    request.end();
    return {
      abort: () => {
        aborted = true;
        request.destroy();
      },
    };
  };

  private async request<T>(method: string, path: string, query: Query, body?: unknown, contentType?: string): Promise<T> {
    const headers: OutgoingHttpHeaders = { ...(await this.headers()) };
    const payload = body === undefined ? undefined : JSON.stringify(body);
    if (payload !== undefined) {
      headers['Content-Type'] = contentType ?? JSON_TYPE;
      headers['Content-Length'] = Buffer.byteLength(payload);
    }
    const timeoutMs = this.options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    return new Promise<T>((resolve, reject) => {
      const request = this.send(this.url(path, query), { method, agent: this.agent, headers, timeout: timeoutMs }, (response) => {
        readBody(response).then((text) => {
          const code = response.statusCode ?? 0;
          if (code < 200 || code > 299) return reject(new ApiStatusError(code, text));
          try {
            resolve((text === '' ? undefined : JSON.parse(text)) as T);
          } catch (error) {
            reject(error);
          }
        }, reject);
      });
      request.on('timeout', () => request.destroy(new Error(`${method} ${path}: no answer from the API server within ${timeoutMs} ms`)));
      request.on('error', reject);
      request.end(payload);
    });
  }

  private async headers(): Promise<OutgoingHttpHeaders> {
    return { Accept: JSON_TYPE, 'User-Agent': this.options.userAgent, ...(await this.credentials.headers()) };
  }

  private url(path: string, query: Query): URL {
    const url = new URL(this.base.pathname.replace(/\/$/, '') + path, this.base);
    for (const [key, value] of Object.entries(query)) if (value !== undefined && value !== '') url.searchParams.set(key, String(value));
    return url;
  }
}

function readBody(response: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    response.on('data', (chunk: Buffer) => chunks.push(chunk));
    response.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    response.on('error', reject);
  });
}
