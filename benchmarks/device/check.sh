#!/usr/bin/env bash
# The GPU check in one command (benchmarks/device/check.py says what it runs and measures).
#
#   bash benchmarks/device/check.sh [OUTPUT_DIR]        # on a GPU machine; OUTPUT_DIR defaults to $OUT
#   bash benchmarks/device/check.sh --tiny OUTPUT_DIR   # a CPU at toy size: proves it runs (the test suite)
#
# check.py's --only and --skip (comma-separated sections) follow OUTPUT_DIR: the test suite adds
# "--skip gpu_tests", since it runs those tests itself.
#
# Where Detectron2 and fvcore are not importable (the GPU machine has torch, torchvision and timm
# only, and no network), the wheels that benchmarks/device/prepare.sh downloaded into
# benchmarks/device/wheels/ (or $CTC_DEVICE_WHEELS) are installed into a temporary folder first.
# PYTHON picks the interpreter.
set -euo pipefail
cd "$(dirname "$0")/../.."

tiny=()
if [ "${1:-}" = "--tiny" ]; then tiny=(--tiny); shift; fi
out=${1:-${OUT:-}}
if [ $# -gt 0 ]; then shift; fi
if [ -z "$out" ]; then echo "check: give an output folder (or set OUT)" >&2; exit 2; fi
py=${PYTHON:-python3}

if ! "$py" -c "import detectron2, fvcore, pycocotools" 2>/dev/null; then
  wheels=${CTC_DEVICE_WHEELS:-benchmarks/device/wheels}
  if ! ls "$wheels"/*.whl >/dev/null 2>&1; then
    echo "check: Detectron2 is not importable and $wheels/ holds no wheels (run benchmarks/device/prepare.sh)" >&2
    exit 2
  fi
  site=$(mktemp -d)
  "$py" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$site" "$wheels"/*.whl
  export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
  echo "check: installed $(ls "$wheels"/*.whl | wc -l) wheels into $site"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
"$py" -c "import torch; print('check: torch', torch.__version__, '| CUDA', torch.cuda.is_available() and torch.cuda.get_device_name())"
exec "$py" benchmarks/device/check.py "${tiny[@]}" --output-dir "$out" "$@"
