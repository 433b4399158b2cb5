#!/usr/bin/env bash
# Runs every check: lint, typecheck, then the three test tiers — unit (Vitest, Node), GPU (Vitest + Dawn) and
# end-to-end (Playwright + Chromium) — each with human output and a JSON report in test-results/. Ends with one
# line, "N passed, N failed", over everything (lint and typecheck count as one check each; a skipped test or a
# tier that crashed before reporting counts as failed). Exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"
reports=test-results
mkdir -p "$reports"

passed=0
failed=0
summary=()
t_all=$SECONDS

banner() { printf '\n\033[1m━━ %s ━━\033[0m\n' "$1"; }

# check NAME COMMAND…: a pass/fail step counted as one check.
check() {
  local name=$1 t0=$SECONDS
  shift
  banner "$name"
  if "$@"; then
    passed=$((passed + 1)); summary+=("$name: ok ($((SECONDS - t0))s)")
  else
    failed=$((failed + 1)); summary+=("$name: FAILED ($((SECONDS - t0))s)")
  fi
}

# count TIER RC JSON KIND: adds a tier's counts from its JSON report (vitest or playwright).
count() {
  local tier=$1 rc=$2 json=$3 kind=$4 t0=$5 counts p f s
  counts=$(node -e '
    const [file, kind] = process.argv.slice(1);
    let j; try { j = JSON.parse(require("node:fs").readFileSync(file, "utf8")); } catch { console.log("0 0 0"); process.exit(); }
    if (kind === "vitest") console.log(j.numPassedTests ?? 0, j.numFailedTests ?? 0, (j.numPendingTests ?? 0) + (j.numTodoTests ?? 0));
    else console.log(j.stats?.expected ?? 0, (j.stats?.unexpected ?? 0) + (j.stats?.flaky ?? 0), j.stats?.skipped ?? 0);
  ' "$json" "$kind")
  read -r p f s <<<"$counts"
  f=$((f + s))
  # A non-zero exit with no failed test means the tier broke before or around its tests (setup, build, crash).
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  passed=$((passed + p)); failed=$((failed + f))
  summary+=("$tier: $p passed, $f failed$([ "$s" -gt 0 ] && echo " ($s skipped, counted as failed)") ($((SECONDS - t0))s)")
}

check lint eslint .
check typecheck bash -c 'tsc --noEmit -p tsconfig.json && svelte-check --tsconfig tsconfig.json --threshold error'

banner "unit tier (Vitest, Node)"
t0=$SECONDS
rm -f "$reports/unit.json"
vitest run --project unit --reporter=default --reporter=json --outputFile.json="$reports/unit.json"
count unit $? "$reports/unit.json" vitest "$t0"

banner "GPU tier (Vitest + Dawn)"
t0=$SECONDS
rm -f "$reports/gpu.json"
(
  # shellcheck source=gpu-env.sh
  . scripts/gpu-env.sh
  echo "VK_ICD_FILENAMES=${VK_ICD_FILENAMES:-<system drivers>}"
  vitest run --project gpu --reporter=default --reporter=json --outputFile.json="$reports/gpu.json"
)
count gpu $? "$reports/gpu.json" vitest "$t0"

banner "end-to-end tier (Playwright + Chromium)"
t0=$SECONDS
rm -f "$reports/e2e.json"
PLAYWRIGHT_JSON_OUTPUT_FILE="$reports/e2e.json" playwright test --reporter=list,json
count e2e $? "$reports/e2e.json" playwright "$t0"

banner summary
printf '  %s\n' "${summary[@]}"
echo "  total time: $((SECONDS - t_all))s; JSON reports in $reports/"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
