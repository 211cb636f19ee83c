# OMS — the two commands a new user runs are `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: setup run test test-fast bench lint fmt clean services-down

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "OMS needs Python 3.11 or newer")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev,embedded]'
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

setup: $(STAMP)
	@$(PY) -m server.core.i18n

run: setup            ## start PostgreSQL + Redis, migrate, seed, serve on :8000 and run the worker
	@$(VENV)/bin/oms dev

test: setup           ## the whole suite, on real PostgreSQL + Redis started by the tests
	$(VENV)/bin/pytest

test-fast: setup      ## everything but the real-browser tests
	$(VENV)/bin/pytest -m "not browser"

bench: setup          ## benchmarks (figures printed beside the raw asyncpg ceiling)
	@for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

lint: setup
	$(VENV)/bin/ruff check .

fmt: setup
	$(VENV)/bin/ruff check --fix .

services-down:
	@$(VENV)/bin/oms services down

clean: services-down
	rm -rf $(VENV) .oms test-artifacts
