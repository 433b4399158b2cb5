#!/usr/bin/env bash
# Prepares the CLI for the lent GPU machine (no node_modules there): a self-contained bundle in .device/, and
# empty stand-ins for transformers.js's native ONNX and image backends, which the engine never loads.
# Run after ../shared/tools/device-webgpu/prepare.sh; then, on the machine:
#   bash .device/enter.sh node .device/decode-lab.mjs <command>     (or: bash scripts/device-bench.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f .device/enter.sh ] || { echo "run ../shared/tools/device-webgpu/prepare.sh first" >&2; exit 2; }
node scripts/bundle.mjs cli/decode-lab.ts .device/decode-lab.mjs --self-contained
for pkg in onnxruntime-node sharp; do
  mkdir -p ".device/node_modules/$pkg"
  echo '{"name":"'"$pkg"'","version":"0.0.0-stub","main":"index.js"}' > ".device/node_modules/$pkg/package.json"
  echo 'module.exports = {};' > ".device/node_modules/$pkg/index.js"
done
# The carried tree must stay under the device tool's 64 MiB: Dawn's binding travels xz-compressed (21 → 5 MB)
# and enter.sh unpacks it on the machine before the first run.
dawn=.device/webgpu/dist/linux-x64/dawn.node
if [ -f "$dawn" ]; then xz -T2 -6 -f "$dawn"; fi
if ! grep -q 'dawn.node.xz' .device/enter.sh; then
  sed -i 's|^mkdir -p node_modules;|[[ -f $here/webgpu/dist/linux-x64/dawn.node ]] \|\| xz -dc "$here/webgpu/dist/linux-x64/dawn.node.xz" > "$here/webgpu/dist/linux-x64/dawn.node"\nmkdir -p node_modules;|' .device/enter.sh
fi
ls -la .device/decode-lab.mjs
