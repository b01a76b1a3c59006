#!/usr/bin/env bash
# Regenerates the TypeScript types of proto/*.proto into src/gen (or into the directory given as $1).
# The options must match PROTO_LOADER_OPTIONS in src/gen/load.ts (the runtime loader), so the types
# describe exactly the objects @grpc/proto-loader produces. src/gen/load.ts is hand-written and kept.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
out_dir="${1:-src/gen}"

# Generate into a scratch dir first so a failed run never leaves src/gen half-written.
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

npx --no-install proto-loader-gen-types \
  --importFileExtension=.js \
  --longs=String \
  --enums=String \
  --defaults \
  --oneofs \
  --grpcLib=@grpc/grpc-js \
  --outDir="$scratch" \
  proto/csi.proto proto/provider.proto

mkdir -p "$out_dir"
# Remove previously generated files (everything except the hand-written loader), then copy.
find "$out_dir" -mindepth 1 -maxdepth 1 ! -name load.ts -exec rm -rf {} +
cp -R "$scratch"/. "$out_dir"/
