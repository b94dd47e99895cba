#!/usr/bin/env bash
# Installs the peers the benchmarks compare logtaild with: websocketd (Debian)
# and frontail (npm, into bench/node_modules). Run by hand before bench/run.sh;
# never run by .ci/run.
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v websocketd >/dev/null; then
  if [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq websocketd
  else
    sudo apt-get update -qq
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq websocketd
  fi
fi
if [ ! -x node_modules/.bin/frontail ]; then
  [ -f package.json ] || echo '{"private": true}' > package.json
  npm install --no-audit --no-fund --silent frontail
fi
websocketd --version
node_modules/.bin/frontail --version
