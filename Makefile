# One command to set up and run the bot locally (`make demo`), one to check everything (`make test`).
# Each bootstraps its own .venv (Python 3.11) and node_modules (Azurite) on a fresh machine.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Checkov for the Bicep templates lives apart: its dependencies clash with the app's.
INFRA_VENV := .venv-infra
INFRA_STAMP := $(INFRA_VENV)/.installed

.PHONY: demo test lint typecheck infra-check unit bench clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

$(INFRA_STAMP): requirements-infra.txt
	test -x $(INFRA_VENV)/bin/python || $(PYTHON) -m venv $(INFRA_VENV)
	$(INFRA_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(INFRA_VENV)/bin/python -m pip install --quiet -r requirements-infra.txt
	touch $(INFRA_STAMP)

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

demo: $(STAMP) node_modules/.package-lock.json
	$(PY) -m sandbox.demo

lint: $(STAMP)
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

typecheck: $(STAMP)
	$(VENV)/bin/mypy

# Checkov on infra/*.bicep, offline; fails on a parse error, a failed check or a skip without reason.
infra-check: $(INFRA_STAMP)
	$(INFRA_VENV)/bin/python infra/check.py

# One pytest worker per core (pytest-xdist), each with its own Azurite; work stealing evens out the
# few long tests. PYTEST_WORKERS=0 runs it in one process.
PYTEST_WORKERS ?= auto

test: $(STAMP) node_modules/.package-lock.json lint typecheck infra-check
	$(PY) -m pytest -q -n $(PYTEST_WORKERS) --dist worksteal

bench: $(STAMP) node_modules/.package-lock.json
	$(PY) bench/parse.py
	$(PY) bench/reconcile.py
	$(PY) bench/front_door.py

clean:
	rm -rf $(VENV) $(INFRA_VENV) node_modules .mypy_cache .ruff_cache .pytest_cache
