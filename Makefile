# The two commands a newcomer needs: `make demo` and `make test`.
# Each creates .venv and installs what it needs on first use.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: venv demo test lint bench clean system-packages

$(STAMP): pyproject.toml constraints.txt scripts/bootstrap-python.sh
	PY=$(PY) bash scripts/bootstrap-python.sh
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

# chromium and mosquitto: the browser and the broker the tests run for real.
system-packages:
	bash scripts/system-packages.sh

demo: venv
	$(BIN)/python -m sts demo

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint system-packages
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: venv
	$(BIN)/python -m pytest benchmarks --benchmark-only --benchmark-columns=min,median,ops -q

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .benchmarks
