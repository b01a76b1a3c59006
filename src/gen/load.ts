// Hand-written (not generated): loads proto/*.proto at runtime with the same options the generated
// types in this folder were produced with (see scripts/gen-proto.sh). Adapters import it from here so
// no adapter folder imports another.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadPackageDefinition } from '@grpc/grpc-js';
import { loadSync, type Options } from '@grpc/proto-loader';
import type { ProtoGrpcType as CsiProtoGrpcType } from './csi.js';
import type { ProtoGrpcType as ProviderProtoGrpcType } from './provider.js';

/** Must match the flags of proto-loader-gen-types in scripts/gen-proto.sh. */
export const PROTO_LOADER_OPTIONS: Readonly<Options> = Object.freeze({
  keepCase: false,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
});

export type CsiProtos = CsiProtoGrpcType;
export type ProviderProtos = ProviderProtoGrpcType;

/**
 * The `proto/` directory of the package. Found by walking up from this module to the nearest
 * package.json, so it works from the source tree, dist/ and any other compile output directory.
 */
export function protoDir(from: string = fileURLToPath(import.meta.url)): string {
  let dir = dirname(from);
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return join(dir, 'proto');
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${from}: cannot locate the proto directory`);
    dir = parent;
  }
}

/** The CSI services (csi.v1 Identity and Node) and messages. */
export function loadCsiProtos(): CsiProtos {
  return loadProto('csi.proto') as unknown as CsiProtos;
}

/** The provider API (v1alpha1 CSIDriverProvider) and messages. */
export function loadProviderProtos(): ProviderProtos {
  return loadProto('provider.proto') as unknown as ProviderProtos;
}

function loadProto(file: string): unknown {
  const definition = loadSync(file, { ...PROTO_LOADER_OPTIONS, includeDirs: [protoDir()] });
  return loadPackageDefinition(definition);
}
