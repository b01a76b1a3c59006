import type { Logger } from '../../ports/logger.js';
import type { CSI_METHODS } from './csi-messages.js';
import { unaryCall, type HandlersOf } from './unary-call.js';

export interface PluginIdentity {
  /** `--drivername`, e.g. secrets-store.csi.k8s.io. */
  readonly driverName: string;
  readonly version: string;
}

/**
 * CSI Identity for a node-only plugin: no plugin capabilities (advertising CONTROLLER_SERVICE would
 * make kubelet and csi-sanity expect a controller), and always ready once serving.
 */
export function identityHandlers(identity: PluginIdentity, logger: Logger): HandlersOf<typeof CSI_METHODS.Identity> {
  return {
    GetPluginInfo: unaryCall('GetPluginInfo', logger, 'debug', async () => ({
      name: identity.driverName,
      vendorVersion: identity.version,
      manifest: {},
    })),
    GetPluginCapabilities: unaryCall('GetPluginCapabilities', logger, 'debug', async () => ({ capabilities: [] })),
    Probe: unaryCall('Probe', logger, 'debug', async () => ({ ready: { value: true } })),
  };
}
