#!/usr/bin/env bash
# Fails (with a diff) when src/gen is not exactly what scripts/gen-proto.sh produces from proto/*.proto.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
fresh="$(mktemp -d)"
trap 'rm -rf "$fresh"' EXIT

bash scripts/gen-proto.sh "$fresh/gen"
if ! diff -r -u -x load.ts "$fresh/gen" src/gen; then
  echo "src/gen is out of date: run 'npm run gen:proto' and commit the result" >&2
  exit 1
fi
echo "src/gen is up to date"
