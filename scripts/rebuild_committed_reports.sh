#!/usr/bin/env bash
# Rebuild every committed study's report.md, findings.json and plots from its results.json with this
# checkout's code (tests/test_demo.py checks they match). Run on a clean tree: each report names the
# commit that rebuilt it, so they are all built elsewhere first and copied back at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
STUDIES=(fashion_mnist_study tradeoff_study tradeoff_study/sweep confirmatory_study)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for study in "${STUDIES[@]}"; do
  mkdir -p "$work/$study"
  cp "docs/results/$study/results.json" "$work/$study/"
  HF_HUB_OFFLINE=1 .venv/bin/ctc-study --report-only OUTPUT_DIR "$work/$study"
done
for study in "${STUDIES[@]}"; do
  for file in report.md findings.json temporal_transfer.png information_plane.png source_accuracy.png; do
    if [ -f "$work/$study/$file" ]; then cp "$work/$study/$file" "docs/results/$study/$file"; fi
  done
done
