# The README's two commands, each doing its own setup.
VENV ?= .venv
PY := $(VENV)/bin/python
export HF_HUB_OFFLINE := 1

.PHONY: setup demo test lint format clean

setup:
	@VENV=$(VENV) bash scripts/setup_env.sh

# The confirmatory study's baseline and ctc_transfer on its seed 10, through the whole pipeline, on
# Fashion-MNIST (real data, offline, 2 CPU cores).
demo: setup
	$(VENV)/bin/ctc-demo --jobs 2

test: setup lint
	$(PY) -m pytest -q

lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: setup
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

clean:
	rm -rf demo_output output .pytest_cache .ruff_cache
