# Development commands. A fresh clone needs only python3 (>= 3.11) and access to PyPI.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
RUFF := $(VENV)/bin/ruff
MYPY := $(VENV)/bin/mypy
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help venv up down test lint fmt clean bench

help:
	@echo "make up      run the whole stack (Temporal dev server, simulators, worker, API); Ctrl-C stops it"
	@echo "make down    stop a stack started by 'make up' in another terminal"
	@echo "make test    tests, lint, format check and type check"
	@echo "make lint    ruff check + format check + mypy;  make fmt: format and fix"
	@echo "make bench   journey cost against its bare twin (one run) + API latency at fixed rates, ~4 min"
	@echo "make venv    create/update .venv (automatic for the targets above)"
	@echo "make clean   remove caches; 'make clean CONFIRM=1' also deletes var/ (databases, dev keys, logs)"

venv: $(STAMP)

# Re-installs only when the dependency declarations change.
$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python >= 3.11 is required (PYTHON=$(PYTHON) is older); run e.g. make PYTHON=python3.11"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $@

up: venv
	@$(PY) scripts/devstack.py up

down:
	@$(PYTHON) scripts/devstack.py down

# Runs them all, fails if any fails. The suite runs in TEST_WORKERS processes (pytest-xdist), one test file per
# process at a time: most tests wait on programme clocks and partners, so two share the 2-core machine well.
TEST_WORKERS ?= 2
test: venv
	@status=0; \
	command -v $${PRAKERJA_CHROMIUM:-/usr/bin/chromium} >/dev/null || \
		echo "browser tests skipped: no chromium at $${PRAKERJA_CHROMIUM:-/usr/bin/chromium} (apt-get install chromium)"; \
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile || status=$$?; \
	$(RUFF) check . || status=1; \
	$(RUFF) format --check . || status=1; \
	$(MYPY) || status=1; \
	exit $$status

lint: venv
	$(RUFF) check .
	$(RUFF) format --check .
	$(MYPY)

# One run: the bare twin, N journeys, the summary per completed journey, then the API (benchmarks/README.md).
BENCH_JOURNEYS ?= 100
bench: venv
	@$(PY) -m benchmarks.journey_throughput --journeys $(BENCH_JOURNEYS) --api

fmt: venv
	$(RUFF) format .
	$(RUFF) check --fix .

clean:
	rm -rf .pytest_cache .ruff_cache .mypy_cache build
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
	@if [ "$(CONFIRM)" != 1 ]; then \
		echo "var/ kept (databases, dev partner keys, logs): 'make clean CONFIRM=1' deletes it."; \
	elif $(PYTHON) scripts/devstack.py status >/dev/null; then \
		echo "The dev stack is running: 'make down' first."; exit 1; \
	else \
		rm -rf var; echo "var/ deleted."; \
	fi
