#!/usr/bin/env bash
# Installs what the three test tiers need: the npm packages (from the lock file) and a Chromium/Chrome for the
# GPU tier's SwiftShader driver and the end-to-end tier. As root on Debian it installs `chromium` itself;
# otherwise it says how. Run from anywhere: bash scripts/setup-tests.sh
set -euo pipefail
cd "$(dirname "$0")/.."

need_node="20.19.0"
if ! node -e "const [a,b]=process.versions.node.split('.').map(Number);process.exit(a>20||(a===20&&b>=19)?0:1)"; then
  echo "setup-tests: Node $need_node or newer is required (found $(node --version))." >&2
  exit 1
fi

echo "setup-tests: installing npm packages…"
if [ -f package-lock.json ]; then
  npm ci --no-audit --no-fund
else
  npm install --no-audit --no-fund
fi

find_chromium() {
  local c
  for c in "${CHROMIUM_PATH:-}" chromium chromium-browser google-chrome google-chrome-stable; do
    [ -n "$c" ] || continue
    if command -v "$c" >/dev/null 2>&1; then command -v "$c"; return 0; fi
    if [ -x "$c" ]; then echo "$c"; return 0; fi
  done
  return 1
}

has_gpu() { [ -e /dev/nvidiactl ] || [ -e /dev/dri/renderD128 ] || [ -e /dev/kfd ]; }
swiftshader=/usr/lib/chromium/vk_swiftshader_icd.json

# The e2e tier needs a browser; on a machine without a GPU, the GPU tier needs Debian chromium's SwiftShader.
if chromium_bin=$(find_chromium) && { has_gpu || [ -f "$swiftshader" ]; }; then
  echo "setup-tests: browser found: $chromium_bin"
elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "setup-tests: installing Debian's chromium (browser + SwiftShader Vulkan driver) and libvulkan1…"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y --no-install-recommends chromium libvulkan1
else
  cat >&2 <<'MSG'
setup-tests: no usable Chromium found.
  The end-to-end tier drives Chromium, and on a machine without a GPU the GPU tier uses the SwiftShader
  Vulkan driver that Debian's chromium package ships (/usr/lib/chromium/vk_swiftshader_icd.json).
  Install it as root:      sudo apt-get update && sudo apt-get install -y chromium libvulkan1
  or point at a browser:   export CHROMIUM_PATH=/path/to/chrome   (then re-run this script)
MSG
  exit 1
fi
echo "setup-tests: ready. Run: npm test"
