# 舆情台账 — two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
PYTEST_ARGS ?= -n 2 --dist loadfile
MUTATE_JOBS ?= 2

.PHONY: setup demo test bench mutate lint clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e '.[test]'
	touch $@

setup: $(VENV)/.installed

# Sets everything up and runs the main job on the embedded default (SQLite; no internet needed).
demo: setup
	$(VENV)/bin/yuqing demo $(if $(PORT),--port $(PORT))

# Sets up and runs the whole test suite (SQLite, the PostgreSQL on 127.0.0.1:5432, headless chromium).
test: setup
	bash scripts/test-deps.sh
	$(PY) -m pytest $(PYTEST_ARGS)

bench: setup
	$(PY) -m bench.all

# Mutation check of the modules behind the documented promises (clocks, PII masking, users, outbox):
# each small break must make a test fail; the score goes to docs/MUTATION.md. Not part of `make test`
# (it takes about an hour on two cores); exits non-zero while a mutant survives.
mutate: setup
	$(PY) bench/mutate/run.py --jobs $(MUTATE_JOBS)

clean:
	rm -rf $(VENV) var .pytest_cache
