#!/usr/bin/env bash
# Installs helm, the test peer of test/contract/deploy-manifests.test.ts (`helm lint` and `helm template` of
# deploy/charts/secrets-store-csi-driver), into the versioned cache the other peers use:
#   ${SECRETS_STORE_CSI_TEST_PEERS:-${XDG_CACHE_HOME:-$HOME/.cache}/secrets-store-csi-test-peers}/helm-<version>/helm
# Debian has no helm package and the npm package named "helm" is something else, so it is built from the Go
# module proxy (`go install helm.sh/helm/v3/cmd/helm@<version>`), once per version; a cached binary is reused.
#
# Usage: test/control-plane/install-helm.sh [--print-path]
set -euo pipefail

HELM_VERSION=v3.22.0
cache_root="${SECRETS_STORE_CSI_TEST_PEERS:-${XDG_CACHE_HOME:-$HOME/.cache}/secrets-store-csi-test-peers}"
dir="$cache_root/helm-${HELM_VERSION#v}"

if [[ "${1:-}" == "--print-path" ]]; then
  echo "$dir/helm"
  exit 0
fi

if [[ -x "$dir/helm" ]]; then
  echo "install-helm: reusing cached helm $HELM_VERSION ($dir/helm)"
  exit 0
fi

install="go install -trimpath -ldflags=\"-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean\" helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
if ! command -v go >/dev/null 2>&1; then
  cat >&2 <<MSG
install-helm: helm $HELM_VERSION is not in $dir and the Go toolchain ('go') is not on PATH to build it.
Install Go 1.26 or newer (helm v3.22.0 requires it) (https://go.dev/dl/) with access to the Go module proxy and re-run $0, or build it yourself:
  GOBIN=$dir $install
MSG
  exit 127
fi

echo "install-helm: building helm $HELM_VERSION into $dir"
start=$(date +%s)
mkdir -p "$cache_root"
staging="$(mktemp -d "$cache_root/.helm-building.XXXXXX")" # moved into place whole: an interrupted build leaves no half binary
trap 'rm -rf "$staging"' EXIT
# Outside the repository, so that the project's own go.mod files (if any) play no part.
(cd "$staging" && CGO_ENABLED=0 GOBIN="$staging" GOFLAGS= go install -trimpath \
  -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean" \
  "helm.sh/helm/v3/cmd/helm@$HELM_VERSION")
mkdir -p "$dir"
mv -f "$staging/helm" "$dir/helm"
"$dir/helm" version --short
echo "install-helm: done in $(( $(date +%s) - start ))s ($dir/helm)"
