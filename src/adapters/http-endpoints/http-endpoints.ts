import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../../ports/logger.js';
import { formatListenAddress, type ListenAddress } from './listen-address.js';

export interface HttpReply {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
}

/** Answers one GET (or HEAD) of a path; the query string is given for options such as `?verbose`. */
export type HttpRoute = (query: URLSearchParams) => HttpReply | Promise<HttpReply>;

export interface HttpEndpointsOptions {
  /** Names the server in logs and errors, e.g. `metrics` or `health`. */
  readonly name: string;
  readonly address: ListenAddress;
  /** Exact paths (`/metrics`, `/healthz`); anything else is 404. */
  readonly routes: Readonly<Record<string, HttpRoute>>;
  readonly logger: Logger;
}

/** A listening endpoint server. */
export interface HttpEndpoints {
  /** The port bound (the one chosen by the system when the address asked for port 0). */
  readonly port: number;
  /** `host:port` actually bound, IPv6 in brackets. */
  readonly address: string;
  /** Stops accepting, ends idle keep-alive connections at once and busy ones after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

/** Scrapers and probes wait a few seconds at most; a slower client is cut off. */
const REQUEST_TIMEOUT_MS = 10_000;
const DEFAULT_STOP_GRACE_MS = 2_000;

/**
 * A plain node:http server for operational endpoints (metrics, probes): GET and HEAD only, exact paths,
 * text bodies, no caching. A route that throws answers 500 and is logged; it never stops the server.
 * Rejects when the address cannot be bound (in use, not local), naming the server and the address.
 */
export async function startHttpEndpoints(options: HttpEndpointsOptions): Promise<HttpEndpoints> {
  const server = createServer((request, response) => void handle(options, request, response));
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  server.headersTimeout = REQUEST_TIMEOUT_MS;
  await listen(server, options);
  const bound = server.address() as AddressInfo;
  const address = formatListenAddress({ host: bound.address, port: bound.port });
  options.logger.info('http endpoints listening', { server: options.name, address, paths: Object.keys(options.routes) });
  return {
    port: bound.port,
    address,
    stop: (graceMs = DEFAULT_STOP_GRACE_MS) => close(server, options, graceMs),
  };
}

async function handle(options: HttpEndpointsOptions, request: IncomingMessage, response: ServerResponse): Promise<void> {
  let reply: HttpReply;
  try {
    reply = await route(options, request);
  } catch (error) {
    options.logger.error('http endpoint failed', { server: options.name, path: request.url, error });
    reply = text(500, 'internal error\n');
  }
  response.writeHead(reply.status, {
    'Content-Type': reply.contentType,
    'Content-Length': Buffer.byteLength(reply.body),
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    ...(reply.status === 405 ? { Allow: 'GET, HEAD' } : {}),
  });
  response.end(request.method === 'HEAD' ? undefined : reply.body);
}

async function route(options: HttpEndpointsOptions, request: IncomingMessage): Promise<HttpReply> {
  const url = new URL(request.url ?? '/', 'http://localhost');
  const handler = Object.hasOwn(options.routes, url.pathname) ? options.routes[url.pathname] : undefined;
  if (handler === undefined) return text(404, 'not found\n');
  if (request.method !== 'GET' && request.method !== 'HEAD') return text(405, 'method not allowed\n');
  return handler(url.searchParams);
}

/** A plain-text reply. */
export function text(status: number, body: string): HttpReply {
  return { status, contentType: 'text/plain; charset=utf-8', body };
}

function listen(server: Server, options: HttpEndpointsOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    const fail = (error: NodeJS.ErrnoException): void => {
      const reason = error.code === 'EADDRINUSE' ? 'address already in use' : error.code === 'EADDRNOTAVAIL' ? 'address not available' : error.message;
      reject(new Error(`${options.name} endpoint cannot listen on ${formatListenAddress(options.address)}: ${reason}`));
    };
    server.once('error', fail);
    // No host: every interface, IPv6 and IPv4 alike (as Go listens for ":8095").
    server.listen({ port: options.address.port, ...(options.address.host !== undefined ? { host: options.address.host } : {}) }, () => {
      server.off('error', fail);
      server.on('error', (error) => options.logger.error('http endpoints server error', { server: options.name, error }));
      resolve();
    });
  });
}

function close(server: Server, options: HttpEndpointsOptions, graceMs: number): Promise<void> {
  if (!server.listening) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => server.closeAllConnections(), graceMs);
    force.unref();
    server.close(() => {
      clearTimeout(force);
      options.logger.info('http endpoints stopped', { server: options.name });
      resolve();
    });
    server.closeIdleConnections();
  });
}
