import type { Logger } from '../../ports/logger.js';
import type { CSI_METHODS } from './csi-messages.js';
import { unaryCall, type HandlersOf } from './unary-call.js';

/**
 * The Controller service of a node-only plugin. It is not advertised (no CONTROLLER_SERVICE plugin
 * capability), so kubelet never calls it. csi-sanity's Node suite still asks for controller
 * capabilities and requires a non-empty list (Go decodes an empty one as nil), so the answer is one
 * UNKNOWN capability, which matches no real RPC. Other Controller methods answer UNIMPLEMENTED.
 */
export function controllerHandlers(logger: Logger): HandlersOf<typeof CSI_METHODS.Controller> {
  return {
    ControllerGetCapabilities: unaryCall('ControllerGetCapabilities', logger, 'debug', async () => ({
      capabilities: [{ rpc: { type: 'UNKNOWN' } }],
    })),
  };
}
