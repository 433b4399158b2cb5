#!/usr/bin/env bash
# Runs the benchmarks on the lent GPU machine in one command and writes their JSON to $OUT (or ./bench-out):
# decode (batch 1 and 8, GEMV vs stream bandwidth), batching policies and the decode-only sweep, speculative
# decoding (γ sweep, greedy and temperature 1), and the PyTorch peer on the same weights; the batching
# policies run pipelined and, for comparison, one pass at a time (--sync).
#   run (device tool), carry .device:  bash scripts/device-bench.sh [what ...]
# what: decode batch spec peer (default: all). Each step has its own time limit; a failed step is logged and
# the rest still run.
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-bench-out}"
mkdir -p "$out"
steps=("$@")
[ ${#steps[@]} -eq 0 ] && steps=(decode batch spec peer)
cli=(bash .device/enter.sh node .device/decode-lab.mjs)
step() { # name limit command...
  local name=$1 limit=$2
  shift 2
  echo "== $name" >&2
  local t0=$SECONDS
  echo "== $name" >> "$out/log.txt"
  timeout "$limit" "$@" > "$out/$name.json" 2>> "$out/log.txt" || echo "!! $name failed (exit $?)" >&2
  echo "   $((SECONDS - t0)) s" >&2
}
for s in "${steps[@]}"; do
  case "$s" in
    decode)
      step decode-b1 120 "${cli[@]}" bench decode --batch 1 --tokens 256 --runs 5 --json
      step decode-b8 120 "${cli[@]}" bench decode --batch 8 --tokens 256 --runs 5 --gemv-sizes '' --json ;;
    batch)
      step batch-policies 240 "${cli[@]}" bench batch --requests 48 --rate 1000 --length-scale 1 --mix decode-heavy --max-batch 8 --token-budget 8 --runs 7 --json
      step batch-policies-sync 240 "${cli[@]}" bench batch --requests 48 --rate 1000 --length-scale 1 --mix decode-heavy --max-batch 8 --token-budget 8 --runs 5 --sync --json
      step batch-policies-mixed 240 "${cli[@]}" bench batch --requests 64 --rate 1000 --length-scale 1 --mix mixed --max-batch 16 --token-budget 64 --runs 3 --json
      step batch-decode 120 "${cli[@]}" bench batch --decode-only --batches 1,2,4,8,16 --steps 64 --runs 5 --json ;;
    spec)
      step spec-greedy 200 "${cli[@]}" bench spec --tokens 256 --runs 8 --json
      step spec-t1 200 "${cli[@]}" bench spec --tokens 256 --runs 5 --temperature 1 --json ;;
    peer)
      step peer 300 python3 tools/bench/pytorch_peer.py --runs 5 ;;
    *) echo "unknown step $s" >&2; exit 2 ;;
  esac
done
