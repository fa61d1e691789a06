# Two commands matter: `make run` and `make test`. Both set up what they need first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
SOPHIA := $(VENV)/bin/sophia
PYTEST_ARGS ?=

.PHONY: setup run demo test test-unit bench lint clean

setup: $(VENV)/.installed gateway/node_modules/.installed

# torch is pinned to the CPU build (2.13.0); pip takes it from the machine's wheel cache when present.
$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev,local]'
	touch $@

gateway/node_modules/.installed: gateway/package.json gateway/package-lock.json
	cd gateway && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The service on embedded defaults: local gateway, simulators (SANDBOX) for every provider without a key
# in .env or the environment, embedded cache and Qdrant, SQLite analytics. Prints the dashboard URL.
run: setup
	$(SOPHIA) serve --embedded

demo: setup
	$(SOPHIA) sandbox --demo

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

test-unit: setup
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

bench: setup
	$(PY) -m bench.routing_overhead

# Ruff over everything, and the type checker over the application (configuration in pyproject.toml).
lint: setup
	$(VENV)/bin/ruff check app tests bench scripts
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) gateway/node_modules .pytest_cache
