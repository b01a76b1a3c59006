import type { ControllerHandlers } from '../../gen/csi/v1/Controller.js';
import type { Logger } from '../../ports/logger.js';
import { unaryCall } from './unary-call.js';

/**
 * The Controller service of a node-only plugin. It is not advertised (no CONTROLLER_SERVICE plugin
 * capability), so kubelet never calls it. csi-sanity's Node suite still asks for controller
 * capabilities and requires a non-empty list (Go decodes an empty one as nil), so the answer is one
 * UNKNOWN capability, which matches no real RPC. Other Controller methods answer UNIMPLEMENTED.
 */
export function controllerHandlers(logger: Logger): ControllerHandlers {
  return {
    ControllerGetCapabilities: unaryCall('ControllerGetCapabilities', logger, 'debug', async () => ({
      capabilities: [{ rpc: { type: 'UNKNOWN' } }],
    })),
  };
}
