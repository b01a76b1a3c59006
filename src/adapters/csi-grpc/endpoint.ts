import { isAbsolute } from 'node:path';

/** Unix socket paths longer than this do not fit in sockaddr_un.sun_path (108 bytes with the NUL). */
export const MAX_SOCKET_PATH_BYTES = 107;

const UNIX_SCHEME = 'unix://';

/**
 * The socket path of a CSI endpoint. Only `unix:///absolute/path.sock` is accepted: `unix://tmp/x`
 * would silently mean host "tmp" to gRPC, and other schemes make no sense next to kubelet.
 */
export function parseCsiEndpoint(endpoint: string): string {
  if (!endpoint.startsWith(UNIX_SCHEME)) {
    throw new Error(`invalid CSI endpoint "${endpoint}": only unix:///absolute/path.sock is supported`);
  }
  const socketPath = endpoint.slice(UNIX_SCHEME.length);
  if (!isAbsolute(socketPath)) {
    throw new Error(`invalid CSI endpoint "${endpoint}": the socket path must be absolute (unix:///${socketPath})`);
  }
  if (socketPath.endsWith('/')) {
    throw new Error(`invalid CSI endpoint "${endpoint}": the socket path names a directory`);
  }
  const bytes = Buffer.byteLength(socketPath, 'utf8');
  if (bytes > MAX_SOCKET_PATH_BYTES) {
    throw new Error(`invalid CSI endpoint "${endpoint}": the socket path is ${bytes} bytes, more than ${MAX_SOCKET_PATH_BYTES}`);
  }
  return socketPath;
}
