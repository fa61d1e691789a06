# Two commands matter: `make run` and `make test`. Both set up what they need first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
SOPHIA := $(VENV)/bin/sophia
PYTEST_ARGS ?=

.PHONY: setup setup-dev run demo test test-unit bench lint clean

# Each step says what it does; a step that is done is skipped (stamp files), so setup is idempotent.
# `setup` is what running needs; `setup-dev` adds the test and lint tools and the Milvus extra.
setup: $(VENV)/.installed gateway/node_modules/.installed
	@echo "setup: ready ($(VENV) and gateway/node_modules are up to date)"

setup-dev: setup $(VENV)/.installed-dev

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || { echo "setup: creating the virtualenv $(VENV)"; $(PYTHON) -m venv $(VENV); }
	@echo "setup: installing the package and its dependencies into $(VENV) (pip install -e .)"
	@$(PY) -m pip install --quiet --disable-pip-version-check -e .
	@touch $@

$(VENV)/.installed-dev: $(VENV)/.installed pyproject.toml
	@echo "setup: installing the test and lint tools and the Milvus extra (pip install -e '.[dev,milvus]')"
	@$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev,milvus]'
	@touch $@

gateway/node_modules/.installed: gateway/package.json gateway/package-lock.json
	@echo "setup: installing the pinned Portkey gateway into gateway/node_modules (npm ci)"
	@cd gateway && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# The service on embedded defaults: local gateway, simulators (SANDBOX) for every provider without a key
# in .env or the environment, embedded cache and Qdrant, SQLite analytics. Prints the dashboard URL.
run: setup
	$(SOPHIA) serve --embedded

demo: setup
	$(SOPHIA) sandbox --demo

test: setup-dev
	$(PY) -m pytest $(PYTEST_ARGS)

test-unit: setup-dev
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

bench: setup-dev
	$(PY) -m bench.routing_overhead

# Ruff over everything, and the type checker over the application (configuration in pyproject.toml).
lint: setup-dev
	$(VENV)/bin/ruff check app tests bench scripts
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) gateway/node_modules .pytest_cache
