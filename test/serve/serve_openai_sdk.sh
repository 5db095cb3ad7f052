#!/usr/bin/env bash
# OpenAI's Node.js SDK (npm package `openai`, installed here into <work dir>) against
# `birkhoff serve` (openai_sdk.cjs). Skips (77) when node or npm is missing or the package
# cannot be installed (no network).
#   serve_openai_sdk.sh <birkhoff> <work dir>
set -euo pipefail
birkhoff=$1 work=$2
here="$(cd "$(dirname "$0")" && pwd)"
command -v node > /dev/null && command -v npm > /dev/null ||
  { echo "SKIP: node and npm are needed for OpenAI's SDK"; exit 77; }
mkdir -p "$work/sdk"
if [ ! -f "$work/sdk/node_modules/openai/package.json" ]; then
  (cd "$work/sdk" && timeout 300 npm install --no-audit --no-fund --silent openai@6 > npm.log 2>&1) ||
    { echo "SKIP: npm could not install openai (no network?): $(tail -3 "$work/sdk/npm.log")"; exit 77; }
fi
echo "openai $(node -p "require('$work/sdk/node_modules/openai/package.json').version")"
art="$work/tiny.bkart"
"$birkhoff" compile --synth-preset tiny -o "$art" > /dev/null
source "$(dirname "$0")/server.sh"
start_server "$birkhoff" "$work/server.log" "$art" --max-sequences 4 --max-context 2048 || exit 1
trap 'kill -9 $pid 2> /dev/null; true' EXIT
NODE_PATH="$work/sdk/node_modules" node "$here/openai_sdk.cjs" "$url"
kill -TERM "$pid"
wait "$pid"
trap - EXIT
