#!/usr/bin/env bash
# Bundles the CLI (esbuild, ~0.2 s) and runs it: `npm run cli -- <command>`. WGSL is inlined at bundle time.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$root/dist/cli"
node "$root/scripts/bundle.mjs" "$root/cli/decode-lab.ts" "$root/dist/cli/decode-lab.mjs"
exec node "$root/dist/cli/decode-lab.mjs" "$@"
