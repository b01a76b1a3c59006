import { Server, ServerCredentials, loadPackageDefinition, type ServiceDefinition, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { fromJSON } from '@grpc/proto-loader';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * kubelet's plugin registration API (k8s.io/kubelet pluginregistration/v1, proto package
 * `pluginregistration`): kubelet dials each socket that appears in `<root>/plugins_registry/`, asks
 * GetInfo, registers the plugin, and reports the outcome with NotifyRegistrationStatus.
 */
const REGISTRATION_API = {
  nested: {
    pluginregistration: {
      nested: {
        PluginInfo: {
          fields: {
            type: { type: 'string', id: 1 },
            name: { type: 'string', id: 2 },
            endpoint: { type: 'string', id: 3 },
            supportedVersions: { rule: 'repeated', type: 'string', id: 4 },
          },
        },
        RegistrationStatus: { fields: { pluginRegistered: { type: 'bool', id: 1 }, error: { type: 'string', id: 2 } } },
        RegistrationStatusResponse: { fields: {} },
        InfoRequest: { fields: {} },
        Registration: {
          methods: {
            GetInfo: { requestType: 'InfoRequest', responseType: 'PluginInfo' },
            NotifyRegistrationStatus: { requestType: 'RegistrationStatus', responseType: 'RegistrationStatusResponse' },
          },
        },
      },
    },
  },
};

export interface RegistrationOutcome {
  readonly registered: boolean;
  readonly error: string;
}

/**
 * What node-driver-registrar does for a CSI driver, in the test process: serves the registration API
 * on `<kubelet root>/plugins_registry/<driver>-reg.sock`, telling kubelet the driver's name, its CSI
 * socket and the CSI versions it speaks (1.0.0), and keeps the outcomes kubelet reports.
 */
export class PluginRegistrar {
  readonly outcomes: RegistrationOutcome[] = [];
  private readonly waiters: (() => void)[] = [];

  private constructor(
    private readonly server: Server,
    readonly socketPath: string,
  ) {}

  static async start(kubeletRoot: string, driverName: string, csiEndpoint: string): Promise<PluginRegistrar> {
    const socketPath = join(kubeletRoot, 'plugins_registry', `${driverName}-reg.sock`);
    const api = loadPackageDefinition(fromJSON(REGISTRATION_API as Parameters<typeof fromJSON>[0], { keepCase: false, defaults: true })) as unknown as {
      pluginregistration: { Registration: { service: ServiceDefinition } };
    };
    const server = new Server();
    const registrar = new PluginRegistrar(server, socketPath);
    const implementation: UntypedServiceImplementation = {
      GetInfo: (_call: unknown, callback: (error: null, info: object) => void) =>
        callback(null, { type: 'CSIPlugin', name: driverName, endpoint: csiEndpoint, supportedVersions: ['1.0.0'] }),
      NotifyRegistrationStatus: (call: { request: { pluginRegistered: boolean; error: string } }, callback: (error: null, response: object) => void) => {
        registrar.outcomes.push({ registered: call.request.pluginRegistered, error: call.request.error });
        for (const resolve of registrar.waiters.splice(0)) resolve();
        callback(null, {});
      },
    };
    server.addService(api.pluginregistration.Registration.service, implementation);
    await rm(socketPath, { force: true });
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(`unix://${socketPath}`, ServerCredentials.createInsecure(), (error) => (error ? reject(error) : resolve())),
    );
    return registrar;
  }

  /** Resolves with kubelet's first report, or rejects after `timeoutMs` without one. */
  async registered(timeoutMs: number): Promise<RegistrationOutcome> {
    const deadline = Date.now() + timeoutMs;
    while (this.outcomes.length === 0) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`kubelet did not report a registration of ${this.socketPath} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.outcomes[0]!;
  }

  /** Stops serving and removes the socket (kubelet then deregisters the driver). */
  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server.tryShutdown(() => resolve()));
    await rm(this.socketPath, { force: true });
  }
}
