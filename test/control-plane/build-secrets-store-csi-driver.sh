#!/usr/bin/env bash
# Builds the upstream Secrets Store CSI Driver (sigs.k8s.io/secrets-store-csi-driver) from the Go module proxy
# into the test-peers cache, once per version, for the differential and takeover tests and the side-by-side
# bench. Versions are the wrapper modules next to this script (secrets-store-csi-driver/v<version>/go.mod);
# monis.app/mlog, which the proxy refuses to serve, is replaced by secrets-store-csi-driver/mlog.
#
# Cache: ${SECRETS_STORE_CSI_TEST_PEERS:-${XDG_CACHE_HOME:-$HOME/.cache}/secrets-store-csi-test-peers}
#   secrets-store-csi-driver-<version>/secrets-store-csi-driver   the driver binary
#   secrets-store-csi-driver-<version>/source                     symlink to the module's source in the Go module
#                                                                 cache (chart, CRDs, deploy/ manifests)
#   secrets-store-csi-driver-<version>/go-provider                 (v1.4.8 only) a provider served by grpc-go, built from
#                                                                 secrets-store-csi-driver/go-provider against that
#                                                                 version's provider API, for the provider client's tests
# test/support/upstream-driver.ts and test/support/go-provider.ts look there (same variables). A peer already in the
# cache is reused.
#
# Usage: test/control-plane/build-secrets-store-csi-driver.sh [--print-dir]
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
wrappers="$here/secrets-store-csi-driver"
cache_root="${SECRETS_STORE_CSI_TEST_PEERS:-${XDG_CACHE_HOME:-$HOME/.cache}/secrets-store-csi-test-peers}"
module=sigs.k8s.io/secrets-store-csi-driver
binary=secrets-store-csi-driver
go_provider=go-provider
go_provider_version=v1.4.8

versions=()
for mod in "$wrappers"/v*/go.mod; do versions+=("$(basename "$(dirname "$mod")")"); done
peer_dir() { echo "$cache_root/$binary-${1#v}"; }

if [[ "${1:-}" == "--print-dir" ]]; then
  for v in "${versions[@]}"; do echo "$v=$(peer_dir "$v")"; done
  exit 0
fi

missing=()
for v in "${versions[@]}"; do
  dir="$(peer_dir "$v")"
  if [[ -x "$dir/$binary" && -f "$dir/source/go.mod" && ( "$v" != "$go_provider_version" || -x "$dir/$go_provider" ) ]]; then
    echo "build-secrets-store-csi-driver: reusing cached upstream driver $v ($dir)"
  else
    missing+=("$v")
  fi
done
(( ${#missing[@]} )) || exit 0

if ! command -v go >/dev/null 2>&1; then
  go_needed="$(awk '$1 == "go" { print $2 }' "$wrappers"/v*/go.mod | sort -V | tail -1)"
  cat >&2 <<MSG
build-secrets-store-csi-driver: the Go toolchain ('go') is not on PATH.
Install Go $go_needed or newer (https://go.dev/dl/, or your distribution's golang package) with access to the
Go module proxy (GOPROXY, default https://proxy.golang.org), then re-run $0.
It builds the upstream driver ${missing[*]} into $cache_root.
MSG
  exit 127
fi

export CGO_ENABLED=0
export GOFLAGS=-mod=mod
start=$(date +%s)
work="$(mktemp -d "${TMPDIR:-/tmp}/secrets-store-csi-test-peers.XXXXXX")"
trap 'rm -rf "$work"' EXIT
# The wrappers are built from a copy (with the mlog stand-in beside it, as the replace directive expects),
# so that the repository is never modified.
cp -r "$wrappers/mlog" "$work/mlog"
mkdir -p "$cache_root"

for v in "${missing[@]}"; do
  dir="$(peer_dir "$v")"
  mod="$work/$v"
  mkdir -p "$mod"
  cp "$wrappers/$v/go.mod" "$wrappers/$v/go.sum" "$mod/"
  source_dir="$(cd "$mod" && go list -m -f '{{.Dir}}' "$module")"
  if [[ -z "$source_dir" || ! -f "$source_dir/go.mod" ]]; then
    (cd "$mod" && go mod download "$module")
    source_dir="$(cd "$mod" && go list -m -f '{{.Dir}}' "$module")"
  fi
  if [[ ! -x "$dir/$binary" ]]; then
    echo "build-secrets-store-csi-driver: building upstream driver $v into $dir"
    ldflags="-s -w -X $module/pkg/version.BuildVersion=$v -X $module/pkg/version.Vcs=module-proxy"
    ldflags+=" -X $module/pkg/version.BuildTime=1970-01-01T00:00:00Z"
    staging="$(mktemp -d "$cache_root/.building.XXXXXX")" # moved into place whole: an interrupted build leaves no half binary
    (cd "$mod" && go build -trimpath -ldflags "$ldflags" -o "$staging/$binary" "$module/cmd/secrets-store-csi-driver")
    mkdir -p "$dir"
    mv -f "$staging/$binary" "$dir/$binary"
    rmdir "$staging"
  fi
  if [[ "$v" == "$go_provider_version" && ! -x "$dir/$go_provider" ]]; then
    echo "build-secrets-store-csi-driver: building the grpc-go provider against $v into $dir"
    cp -r "$wrappers/$go_provider" "$mod/$go_provider"
    staging="$(mktemp -d "$cache_root/.building.XXXXXX")"
    (cd "$mod" && go build -trimpath -ldflags "-s -w" -o "$staging/$go_provider" "./$go_provider")
    mkdir -p "$dir"
    mv -f "$staging/$go_provider" "$dir/$go_provider"
    rmdir "$staging"
  fi
  ln -sfn "$source_dir" "$dir/source"
  [[ -x "$dir/$binary" && -f "$dir/source/go.mod" ]] || { echo "build-secrets-store-csi-driver: $v incomplete in $dir" >&2; exit 1; }
done
echo "build-secrets-store-csi-driver: done in $(( $(date +%s) - start ))s (${missing[*]}, cache $cache_root)"
