# Two commands do everything on a fresh machine (Python 3.11+ with venv):
#   make demo   runs an example DAG end to end against the bundled emulator (SQLite metadata DB)
#   make test   runs the test suite and builds the docs site
# Each installs what it needs into .venv first.

PYTHON ?= python3
export NO_MKDOCS_2_WARNING := 1
VENV ?= .venv
PY := $(VENV)/bin/python
AIRFLOW_VERSION ?= 3.3.2
STAMP := $(VENV)/.installed-$(AIRFLOW_VERSION)

.PHONY: install demo test test-fast docs bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip setuptools wheel
	$(PY) -m pip install --quiet "apache-airflow==$(AIRFLOW_VERSION)" -e ".[test,docs,fast]"
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(PY) scripts/demo.py

test: install
	$(PY) -m pytest -q -p no:cacheprovider
	$(PY) -m mkdocs build --strict --quiet --site-dir $(VENV)/site

test-fast: install
	$(PY) -m pytest -q -p no:cacheprovider -m "not dagtest"

docs: install
	$(PY) -m mkdocs build --strict --site-dir site

$(VENV)/.installed-bench: $(STAMP)
	$(PY) -m pip install --quiet -e ".[bench]"
	touch $@

bench: $(VENV)/.installed-bench
	$(PY) bench/run_all.py

clean:
	rm -rf $(VENV) site .demo
