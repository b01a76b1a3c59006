import { ContainerModule } from 'inversify';
import { GrpcSecretProvider, type GrpcSecretProviderOptions } from '../../adapters/provider-grpc/grpc-secret-provider.js';
import { GrpcProviderProbe } from '../../adapters/provider-grpc/provider-probe.js';
import { Logger } from '../../ports/logger.js';
import { ProviderProbe } from '../../ports/provider-probe.js';
import { SecretProvider } from '../../ports/secret-provider.js';

/** Providers reached over their unix sockets (production, `driver`, and the simulation over sockets), and their health check's probe. */
export function grpcProviderModule(options: GrpcSecretProviderOptions): ContainerModule {
  return new ContainerModule(({ bind }) => {
    bind(GrpcSecretProvider)
      .toResolvedValue((logger: Logger) => new GrpcSecretProvider(options, logger), [Logger])
      .inSingletonScope()
      .onDeactivation((provider) => provider.close());
    bind(SecretProvider).toService(GrpcSecretProvider);
    // Searched in the order mounts search them.
    bind(ProviderProbe).toConstantValue(new GrpcProviderProbe([...options.additionalProviderVolumePaths, options.providerVolume], options));
  });
}

/** One provider instance given by the caller (the in-process fake in tests). */
export function givenProviderModule(provider: SecretProvider): ContainerModule {
  return new ContainerModule(({ bind }) => {
    bind(SecretProvider).toConstantValue(provider);
  });
}
