# Two commands do everything on a fresh machine (Python 3.11+ with venv):
#   make demo   runs an example DAG end to end against the bundled emulator (SQLite metadata DB)
#   make lint   checks the import contracts (import-linter), lints (ruff) and type-checks (mypy --strict)
#   make test   runs `make lint`, the test suite, and builds the docs site (the same strict build as `make docs`)
#   make e2e    runs the provider for real: PostgreSQL, the Airflow components as separate processes,
#               the bundled emulator, REST triggers and Chromium on the UI (needs root or sudo for apt)
# Each installs what it needs into .venv first.

PYTHON ?= python3
export NO_MKDOCS_2_WARNING := 1
VENV ?= .venv
PY := $(VENV)/bin/python
AIRFLOW_VERSION ?= 3.3.2
STAMP := $(VENV)/.installed-$(AIRFLOW_VERSION)

# one docs build for `make docs` and `make test`: strict, so any warning (a docstring naming a
# parameter the signature lacks, a broken link) fails both
DOCS_BUILD = $(PY) -m mkdocs build --strict --site-dir site

.PHONY: install lint demo test test-fast docs bench e2e e2e-local e2e-celery clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip setuptools wheel
	$(PY) -m pip install --quiet "apache-airflow==$(AIRFLOW_VERSION)" -e ".[emulator,test,lint,docs,fast]"
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(PY) scripts/demo.py

# the layers and contracts in pyproject.toml [tool.importlinter], then ruff, then mypy --strict on the package
lint: install
	$(VENV)/bin/lint-imports
	$(VENV)/bin/ruff check airflow_provider_dialer tests example_dags bench scripts
	$(VENV)/bin/ruff format --check airflow_provider_dialer tests example_dags bench scripts
	$(VENV)/bin/mypy

test: lint
	$(PY) -m pytest -q -p no:cacheprovider
	$(DOCS_BUILD)

test-fast: install
	$(PY) -m pytest -q -p no:cacheprovider -m "not dagtest"

docs: install
	$(DOCS_BUILD)

$(VENV)/.installed-bench: $(STAMP)
	$(PY) -m pip install --quiet -e ".[bench]"
	touch $@

bench: $(VENV)/.installed-bench
	$(PY) bench/run_all.py

# the real deployment: Debian's postgresql, redis-server and chromium (installed when missing),
# the provider with the postgres and celery extras, Playwright driving Debian's chromium
$(VENV)/.installed-e2e: $(STAMP)
	$(PY) -m pip install --quiet -e ".[e2e]"
	touch $@

e2e: e2e-local e2e-celery

e2e-local: $(VENV)/.installed-e2e
	$(PY) scripts/e2e.py local

e2e-celery: $(VENV)/.installed-e2e
	$(PY) scripts/e2e.py celery

clean:
	rm -rf $(VENV) site .demo .e2e
