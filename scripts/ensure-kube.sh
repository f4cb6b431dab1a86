#!/usr/bin/env bash
# Makes a real Kubernetes control plane available to the Kubernetes tests and
# bench: kube-apiserver and kube-controller-manager (v1.37.2) and the etcd they
# need (v3.7.0, which Kubernetes pins; Debian's 3.4 and PyPI's 3.5.1 are too
# old), built from the Go module proxy once into a cache outside the clone,
# keyed by version, and reused by every later run (CI on the same machine
# included). Prints the folder holding the three binaries.
#
# k8s.io/kubernetes replaces its staging modules with local paths, so
# `go install k8s.io/kubernetes/cmd/...` is refused; a small module here
# requires it and points every staging module at its published version.
# A cold build takes about 7 minutes on 2 cores.
set -euo pipefail

KUBE=1.37.2
STAGING=0.37.2
ETCD=3.7.0
CACHE="${XDSKIT_KUBE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/xdskit/kube-v$KUBE-etcd-v$ETCD}"
BIN="$CACHE/bin"

ready() {
  [ -x "$BIN/kube-apiserver" ] && [ -x "$BIN/kube-controller-manager" ] && [ -x "$BIN/etcd" ] &&
    "$BIN/kube-apiserver" --version >/dev/null 2>&1 && "$BIN/etcd" --version >/dev/null 2>&1
}

if ready; then
  echo "$BIN"
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "ensure-kube: building kube-apiserver needs Go (1.26+); install it or set XDSKIT_KUBE_CACHE to a folder with bin/{kube-apiserver,kube-controller-manager,etcd}" >&2
  exit 1
fi

SRC="$CACHE/src"
mkdir -p "$SRC/etcd" "$BIN"
cd "$SRC"
started=$(date +%s)
echo "ensure-kube: building kube-apiserver $KUBE, kube-controller-manager $KUBE and etcd $ETCD into $CACHE (once; about 7 minutes on 2 cores)" >&2

STAGING_MODULES="api apiextensions-apiserver apimachinery apiserver cli-runtime client-go cloud-provider
cluster-bootstrap code-generator component-base component-helpers controller-manager cri-api cri-client
cri-streaming csi-translation-lib dynamic-resource-allocation endpointslice externaljwt kms kube-aggregator
kube-controller-manager kube-proxy kube-scheduler kubectl kubelet metrics mount-utils pod-security-admission
sample-apiserver streaming"

{
  echo "module xdskit.local/kubebuild"
  echo
  echo "go 1.26"
  echo
  echo "require ("
  echo "	k8s.io/kubernetes v$KUBE"
  echo "	go.etcd.io/etcd/server/v3 v$ETCD"
  echo ")"
  echo
  echo "replace ("
  for m in $STAGING_MODULES; do echo "	k8s.io/$m => k8s.io/$m v$STAGING"; done
  echo ")"
} >go.mod

# The programs' packages, so `go mod tidy` keeps what they need.
cat >tools.go <<'EOF'
//go:build tools

package kubebuild

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver/app"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager/app"
)
EOF
# etcd's own main lives in a module of its own; its server module has the rest.
cat >etcd/main.go <<'EOF'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
EOF

export GOFLAGS="${GOFLAGS:-} -mod=mod"
go mod tidy >&2
go build -trimpath -ldflags="-s -w" -o "$BIN/etcd" ./etcd
go build -trimpath -ldflags="-s -w" -o "$BIN/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver
go build -trimpath -ldflags="-s -w" -o "$BIN/kube-controller-manager" k8s.io/kubernetes/cmd/kube-controller-manager
if ! ready; then
  echo "ensure-kube: the binaries were built but do not run" >&2
  exit 1
fi
echo "ensure-kube: built in $(($(date +%s) - started)) s" >&2
echo "$BIN"
