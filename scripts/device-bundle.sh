#!/usr/bin/env bash
# Prepares the CLI for the lent GPU machine (no node_modules there): a self-contained bundle in .device/, and
# empty stand-ins for transformers.js's native ONNX and image backends, which the engine never loads.
# Run after ../shared/tools/device-webgpu/prepare.sh; then, on the machine:
#   bash .device/enter.sh node .device/decode-lab.mjs <command>
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f .device/enter.sh ] || { echo "run ../shared/tools/device-webgpu/prepare.sh first" >&2; exit 2; }
node scripts/bundle.mjs cli/decode-lab.ts .device/decode-lab.mjs --self-contained
for pkg in onnxruntime-node sharp; do
  mkdir -p ".device/node_modules/$pkg"
  echo '{"name":"'"$pkg"'","version":"0.0.0-stub","main":"index.js"}' > ".device/node_modules/$pkg/package.json"
  echo 'module.exports = {};' > ".device/node_modules/$pkg/index.js"
done
ls -la .device/decode-lab.mjs
