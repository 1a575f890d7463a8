# The two quick-start commands are `make demo` and `make test`: each sets up
# what it needs (Debian packages, .venv/ with pinned torch) and is safe to rerun.
SHELL := /bin/bash
PY := .venv/bin/python
PIP := .venv/bin/pip
STAMP := .venv/.installed
DEMO_OUT ?= demo-out
# torch 2.13.0: a CPU build from local disk on the project's machines, the
# public wheel elsewhere. Installed before the package so its `torch>=2.4`
# range is already met and pip never fetches a CUDA build on top.
TORCH_SPEC ?= torch==2.13.0
APT_PACKAGES := dataset-fashion-mnist chromium

.PHONY: setup demo test test-all lint bench results clean-venv

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	@scripts/apt-install.sh $(APT_PACKAGES)
	@test -x $(PY) || python3 -m venv .venv
	$(PIP) install -q --upgrade pip
	$(PIP) install -q "$(TORCH_SPEC)"
	$(PIP) install -q -e ".[all]"
	@touch $(STAMP)

demo: setup
	.venv/bin/net2net demo --out $(DEMO_OUT)

test: setup
	$(PY) -m pytest -q -m "not slow"

test-all: setup
	$(PY) -m pytest -q

lint: setup
	.venv/bin/ruff check src tests benchmarks

bench: setup
	$(PY) benchmarks/run.py

# docs/results.md and docs/zoo.md, measured from the installed zoo (one CPU thread)
results: setup
	$(PY) scripts/results.py --threads 1

clean-venv:
	rm -rf .venv
