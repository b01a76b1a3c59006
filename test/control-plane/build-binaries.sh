#!/usr/bin/env bash
# Builds the control-plane peers the Kubernetes adapter tests run against (etcd, kube-apiserver,
# kube-controller-manager, and kubemark, whose hollow node is a real kubelet) from the Go module proxy,
# into a cache directory outside the repository keyed by version. Binaries already in the cache are
# reused; a cold build takes 10-20 minutes on 2 cores (see README).
#
# Versions are pinned by the wrapper modules next to this script:
#   test/control-plane/k8s/go.mod   k8s.io/kubernetes vX.Y.Z (staging modules replaced by v0.Y.Z)
#   test/control-plane/etcd/go.mod  go.etcd.io/etcd/server/v3 vX.Y.Z
#
# Cache: ${SECRETS_STORE_CSI_TEST_PEERS:-${XDG_CACHE_HOME:-$HOME/.cache}/secrets-store-csi-test-peers}
#   k8s-<version>/kube-apiserver, k8s-<version>/kube-controller-manager, k8s-<version>/kubemark,
#   etcd-<version>/etcd
# test/support/control-plane.ts and test/support/hollow-kubelet.ts look there (same variables).
#
# Usage: test/control-plane/build-binaries.sh [--print-dir]
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache_root="${SECRETS_STORE_CSI_TEST_PEERS:-${XDG_CACHE_HOME:-$HOME/.cache}/secrets-store-csi-test-peers}"

module_version() { # <go.mod> <module path>
  awk -v m="$2" '($1 == m || ($1 == "require" && $2 == m)) { for (i = 1; i <= NF; i++) if ($i ~ /^v[0-9]/) { print $i; exit } }' "$1"
}

k8s_version="$(module_version "$here/k8s/go.mod" k8s.io/kubernetes)"
etcd_version="$(module_version "$here/etcd/go.mod" go.etcd.io/etcd/server/v3)"
if [[ -z "$k8s_version" || -z "$etcd_version" ]]; then
  echo "build-binaries: cannot read pinned versions from $here/k8s/go.mod and $here/etcd/go.mod" >&2
  exit 1
fi
k8s_dir="$cache_root/k8s-${k8s_version#v}"
etcd_dir="$cache_root/etcd-${etcd_version#v}"

if [[ "${1:-}" == "--print-dir" ]]; then
  echo "k8s=$k8s_dir"
  echo "etcd=$etcd_dir"
  exit 0
fi

have() { [[ -x "$1" ]]; }
need_k8s=1; need_etcd=1
have "$k8s_dir/kube-apiserver" && have "$k8s_dir/kube-controller-manager" && have "$k8s_dir/kubemark" && need_k8s=0
have "$etcd_dir/etcd" && need_etcd=0
if (( !need_k8s && !need_etcd )); then
  echo "build-binaries: reusing cached kube-apiserver/kube-controller-manager/kubemark $k8s_version ($k8s_dir) and etcd $etcd_version ($etcd_dir)"
  exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  go_needed="$(awk '$1 == "go" { print $2 }' "$here/k8s/go.mod" "$here/etcd/go.mod" | sort -V | tail -1)"
  cat >&2 <<EOF
build-binaries: the Go toolchain ('go') is not on PATH.
Install Go $go_needed or newer (https://go.dev/dl/, or your distribution's golang package) with access
to the Go module proxy (GOPROXY, default https://proxy.golang.org), then re-run $0.
It builds etcd $etcd_version and kube-apiserver/kube-controller-manager/kubemark $k8s_version into $cache_root.
EOF
  exit 127
fi

export CGO_ENABLED=0
export GOFLAGS=-mod=mod
start=$(date +%s)
work="$(mktemp -d "${TMPDIR:-/tmp}/secrets-store-csi-test-peers.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# Builds in a copy of the wrapper module so that the repository is never modified.
build() { # <wrapper dir> <output dir> <ldflags> <packages...>
  local src="$1" out="$2" ldflags="$3"; shift 3
  local mod="$work/$(basename "$src")" staging
  mkdir -p "$mod" "$cache_root"
  cp "$src/go.mod" "$mod/"
  [[ -f "$src/go.sum" ]] && cp "$src/go.sum" "$mod/"
  staging="$(mktemp -d "$cache_root/.building.XXXXXX")"
  (cd "$mod" && go build -trimpath -ldflags "$ldflags" -o "$staging/" "$@")
  mkdir -p "$out"
  for f in "$staging"/*; do mv -f "$f" "$out/"; done
  rmdir "$staging"
}

if (( need_etcd )); then
  echo "build-binaries: building etcd $etcd_version into $etcd_dir"
  build "$here/etcd" "$etcd_dir" "-s -w" go.etcd.io/etcd/server/v3
  # The main package of go.etcd.io/etcd/server/v3 is named after its directory.
  [[ -x "$etcd_dir/v3" && ! -e "$etcd_dir/etcd" ]] && mv "$etcd_dir/v3" "$etcd_dir/etcd"
  [[ -x "$etcd_dir/server" && ! -e "$etcd_dir/etcd" ]] && mv "$etcd_dir/server" "$etcd_dir/etcd"
fi

if (( need_k8s )); then
  echo "build-binaries: building kube-apiserver, kube-controller-manager and kubemark $k8s_version into $k8s_dir"
  minor="${k8s_version#v1.}"; minor="${minor%%.*}"
  ldflags="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  # One `go build` for the three: the packages they share (most of k8s.io/kubernetes) compile once.
  build "$here/k8s" "$k8s_dir" "$ldflags" k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kubemark
fi

have "$etcd_dir/etcd" || { echo "build-binaries: etcd binary missing after build in $etcd_dir" >&2; exit 1; }
have "$k8s_dir/kube-apiserver" || { echo "build-binaries: kube-apiserver missing after build in $k8s_dir" >&2; exit 1; }
have "$k8s_dir/kube-controller-manager" || { echo "build-binaries: kube-controller-manager missing after build in $k8s_dir" >&2; exit 1; }
have "$k8s_dir/kubemark" || { echo "build-binaries: kubemark missing after build in $k8s_dir" >&2; exit 1; }
echo "build-binaries: done in $(( $(date +%s) - start ))s (etcd $etcd_version, kubernetes $k8s_version, cache $cache_root)"
