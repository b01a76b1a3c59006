import { mkdir, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { loadCsiProtos } from '../../gen/load.js';
import type { Logger } from '../../ports/logger.js';
import type { Metrics } from '../../ports/metrics.js';
import type { NodeVolumes } from '../../ports/node-volumes.js';
import { controllerHandlers } from './controller-service.js';
import { parseCsiEndpoint } from './endpoint.js';
import { identityHandlers } from './identity-service.js';
import { nodeHandlers } from './node-service.js';

export interface CsiServerOptions {
  /** `--endpoint`: unix:///absolute/path.sock. */
  readonly endpoint: string;
  readonly driverName: string;
  readonly version: string;
  readonly nodeId: string;
  readonly volumes: NodeVolumes;
  readonly logger: Logger;
  /** Counts the publish/unpublish requests refused before they reach `volumes` (which counts the rest). */
  readonly metrics?: Metrics;
}

/** A running CSI server. */
export interface CsiServer {
  /** The socket path served. */
  readonly address: string;
  /** Lets running calls finish for up to `graceMs`, then cuts them off; removes the socket. */
  stop(graceMs?: number): Promise<void>;
}

export const DEFAULT_STOP_GRACE_MS = 5_000;

/**
 * Serves CSI Identity and Node on a unix socket (the driving adapter kubelet talks to). Removes a
 * stale socket left by a previous run and creates the socket's directory before binding.
 */
export async function startCsiServer(options: CsiServerOptions): Promise<CsiServer> {
  const socketPath = parseCsiEndpoint(options.endpoint);
  if (!options.driverName) throw new Error('the CSI driver name is empty');
  if (!options.nodeId) throw new Error('the node id is empty');
  const protos = loadCsiProtos();
  const server = new Server();
  server.addService(protos.csi.v1.Identity.service, identityHandlers(options, options.logger));
  server.addService(protos.csi.v1.Node.service, nodeHandlers(options.volumes, options, options.logger, options.metrics));
  server.addService(protos.csi.v1.Controller.service, controllerHandlers(options.logger));
  await mkdir(dirname(socketPath), { recursive: true });
  await rm(socketPath, { force: true });
  await bind(server, `unix://${socketPath}`);
  options.logger.info('csi server listening', { endpoint: options.endpoint, driverName: options.driverName, nodeId: options.nodeId });
  return {
    address: socketPath,
    async stop(graceMs = DEFAULT_STOP_GRACE_MS) {
      await shutdown(server, graceMs);
      await rm(socketPath, { force: true });
      options.logger.info('csi server stopped', { endpoint: options.endpoint });
    },
  };
}

function bind(server: Server, address: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.bindAsync(address, ServerCredentials.createInsecure(), (error) => (error ? reject(error) : resolve()));
  });
}

function shutdown(server: Server, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    const force = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, graceMs);
    server.tryShutdown(() => {
      clearTimeout(force);
      resolve();
    });
  });
}
