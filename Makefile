# One command to set up and test, one to set up and run the demo. See README.md.
VENV ?= .venv
PY := $(VENV)/bin/python
# torch==2.13.0: the CPU wheel where one lies on local disk (our dev and CI machines), the
# CUDA build from PyPI elsewhere. Override with e.g. CATSMT_TORCH='torch>=2.4'.
CATSMT_TORCH ?= torch==2.13.0
# The offline data mirror, when present beside the project (CI, dev machines).
export CATSMT_MIRROR ?= $(if $(wildcard ../shared/mirror/MANIFEST.tsv),$(abspath ../shared/mirror),)

.PHONY: setup test lint test-slow demo bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check '$(CATSMT_TORCH)'
	$(VENV)/bin/pip install -q --disable-pip-version-check -e '.[dev,torchjd]'
	touch $@

lint: setup
	$(VENV)/bin/ruff check src tests benchmarks tools
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

test: lint
	$(PY) -m pytest

test-slow: setup
	$(PY) -m pytest -m slow

demo: setup
	$(VENV)/bin/catsmt demo

# The benchmark suite on this machine's CPU (benchmarks/README.md; about 15 minutes on 2 cores).
bench: setup
	$(VENV)/bin/catsmt bench --preset tiny --vocab 8000 --max-tokens 4096 --langs-per-batch 4 \
	  --repeats 20 --threads 1 --out benchmarks/results/cpu-$$(date -u +%Y-%m-%d).json

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
