import { ContainerModule } from 'inversify';
import { GrpcSecretProvider, type GrpcSecretProviderOptions } from '../../adapters/provider-grpc/grpc-secret-provider.js';
import { Logger } from '../../ports/logger.js';
import { SecretProvider } from '../../ports/secret-provider.js';

/** Providers reached over their unix sockets (production, `driver`, and the simulation over sockets). */
export function grpcProviderModule(options: GrpcSecretProviderOptions): ContainerModule {
  return new ContainerModule(({ bind }) => {
    bind(GrpcSecretProvider)
      .toResolvedValue((logger: Logger) => new GrpcSecretProvider(options, logger), [Logger])
      .inSingletonScope()
      .onDeactivation((provider) => provider.close());
    bind(SecretProvider).toService(GrpcSecretProvider);
  });
}

/** One provider instance given by the caller (the in-process fake in tests). */
export function givenProviderModule(provider: SecretProvider): ContainerModule {
  return new ContainerModule(({ bind }) => {
    bind(SecretProvider).toConstantValue(provider);
  });
}
