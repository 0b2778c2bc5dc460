#!/usr/bin/env bash
# One-command setup: a virtualenv with torch, torchvision, Detectron2, timm and the plugin.
# Idempotent: a stamp of this script and setup.py makes the second run a no-op.
#
#   VENV=path        the environment to create or reuse (default .venv; an existing one is reused)
#   DETECTRON2_SRC   a Detectron2 checkout to build and install (users with CUDA)
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
STAMP="$VENV/.ctc_plugin_setup"
want=$(cat scripts/setup_env.sh setup.py | sha256sum | cut -c1-16)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
  echo "setup: $VENV is up to date"
  exit 0
fi

[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
py="$VENV/bin/python"
# pip warns about every missing local index folder of this machine's pip.conf; keep its real output.
pip() {
  "$py" -m pip --disable-pip-version-check -q "$@" 2>&1 | { grep -v "^WARNING: Location '" || true; }
  return "${PIPESTATUS[0]}"
}

# torch and torchvision: an environment that already has them keeps them (a user's CUDA build).
if ! "$py" -c "import torch, torchvision" 2>/dev/null; then
  echo "setup: installing torch 2.14.1 and torchvision 0.29.1"
  pip install "torch==2.14.1" "torchvision==0.29.1"
fi

echo "setup: installing fvcore, timm, pycocotools, tensorboard, submitit and the test tools"
# numpy<2 and setuptools<81 are Detectron2's (pkg_resources) requirements.
pip install "numpy<2" "setuptools<81" fvcore iopath "timm>=1.0" safetensors "pycocotools>=2.0.2" tensorboard \
  matplotlib scipy tqdm "omegaconf>=2.1,<2.4" "hydra-core>=1.1" yacs tabulate termcolor cloudpickle packaging "submitit>=1.5" \
  pytest pytest-timeout ruff

# Detectron2 is not on the package index. In order of preference:
#   already importable -> keep it;
#   DETECTRON2_SRC     -> build that checkout (what users with CUDA do);
#   CUDA is available  -> build the official repository from source;
#   otherwise          -> the pure-Python wheel of sal-detectron2 0.7.2 (Detectron2's current
#                         Python code; ROIAlign and NMS come from torchvision, no _C needed).
if "$py" -c "import detectron2" 2>/dev/null; then
  echo "setup: Detectron2 already installed"
elif [ -n "${DETECTRON2_SRC:-}" ]; then
  echo "setup: building Detectron2 from $DETECTRON2_SRC"
  pip install --no-build-isolation -e "$DETECTRON2_SRC"
elif "$py" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
  echo "setup: building Detectron2 from source (CUDA)"
  pip install --no-build-isolation "git+https://github.com/facebookresearch/detectron2.git"
else
  echo "setup: installing Detectron2's Python code (sal-detectron2 0.7.2, no compiled ops)"
  wheels=$(mktemp -d)
  pip download --no-deps --only-binary=:all: --python-version 3.10 -d "$wheels" "sal-detectron2==0.7.2" 2>/dev/null
  # The wheel is tagged cp310 but is pure Python apart from an optional _C; give it a py3 tag.
  for wheel in "$wheels"/*.whl; do mv "$wheel" "${wheel/-cp310-/-py3-}"; done
  pip install --no-deps "$wheels"/*.whl
  rm -rf "$wheels"
fi

pip install --no-deps --no-build-isolation -e .

# Fashion-MNIST, the embedded real dataset of the demo, from Debian where apt exists.
if [ ! -d /usr/share/datasets/fashion-mnist ] && command -v apt-get >/dev/null; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing Debian's dataset-fashion-mnist"
  $sudo apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1 \
    || { $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q dataset-fashion-mnist >/dev/null; } \
    || echo "setup: warning: could not install dataset-fashion-mnist; make demo needs it"
fi

"$py" -c "import ctc_plugin, detectron2, timm; print('setup: ctc_plugin', ctc_plugin.__version__, '| detectron2', detectron2.__version__, '| timm', timm.__version__)"
echo "$want" > "$STAMP"
