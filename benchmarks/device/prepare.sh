#!/usr/bin/env bash
# Downloads, into benchmarks/device/wheels/ (ignored by git), the packages the GPU machine lacks
# for benchmarks/device/check.sh: Python 3.12, manylinux x86-64, the versions this project's setup
# installs. Run it where pip can reach the package index; it prints the total size, which must stay
# well under the 64 MiB that may travel with the working tree.
#
#   bash benchmarks/device/prepare.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
dest=benchmarks/device/wheels
py=${PYTHON:-python3}
rm -rf "$dest"
mkdir -p "$dest"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# pip warns about every missing local index folder of this machine's pip.conf; keep its real output.
pip() {
  "$py" -m pip --disable-pip-version-check -q "$@" 2>&1 | { grep -v "^WARNING: Location '" || true; }
  return "${PIPESTATUS[0]}"
}
platforms=()
for n in 2_28 2_27 2_17 2014 1; do
  if [ "$n" = 2014 ] || [ "$n" = 1 ]; then platforms+=(--platform "manylinux${n}_x86_64"); else platforms+=(--platform "manylinux_${n}_x86_64"); fi
done

# Binary wheels for CPython 3.12.
pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp "${platforms[@]}" \
  -d "$dest" "pycocotools==2.0.11"
# Pure-Python wheels.
pip download --no-deps --only-binary=:all: --python-version 3.12 -d "$dest" \
  "yacs==0.1.8" "omegaconf==2.3.1" "hydra-core==1.3.8" "termcolor==3.3.0"
# Pure-Python packages published as source only: built into wheels here.
pip wheel --no-deps -w "$dest" "fvcore==0.1.5.post20221221" "iopath==0.1.10" "antlr4-python3-runtime==4.9.3"
# Detectron2's Python code (sal-detectron2, tagged cp310 but pure Python apart from an optional _C).
pip download --no-deps --only-binary=:all: --python-version 3.10 -d "$tmp" "sal-detectron2==0.7.2"
for wheel in "$tmp"/*.whl; do
  name=$(basename "$wheel")
  mv "$wheel" "$dest/${name/-cp310-/-py3-}"
done

ls -1 "$dest"
total=$(du -cb "$dest"/*.whl | tail -1 | cut -f1)
echo "prepare: $(ls "$dest"/*.whl | wc -l) wheels, $((total / 1024)) KiB in $dest (limit: 64 MiB with the working tree)"
