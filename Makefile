# Two commands on a fresh machine: `make run` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint install crawl clean bench bench-quick

# The project is installed editable in compat mode: a path in a .pth file, where the default
# editable finder slows the start of every Python process (the CLI, each crawl process, each
# test's subprocess).
$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e . \
		--config-settings editable_mode=compat
	touch $(STAMP)

# Byte-compiled on every install (only what changed): where PYTHONDONTWRITEBYTECODE is set,
# as on this project's CI machines, Python never writes .pyc files itself, and each process
# (the CLI, each crawl process, the extraction fork server) would compile the project's
# modules again at every start.
install: $(STAMP)
	$(BIN)/python -m compileall -q crawlers monitor spiders storage alembic bench >/dev/null

## run: install, migrate the default SQLite database, start the daemon (Ctrl-C stops it).
run: install
	$(BIN)/eventwatch db upgrade
	exec $(BIN)/eventwatch run

## crawl: crawl every enabled source once, now.
crawl: install
	$(BIN)/eventwatch crawl --all

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

## test: lint, layering contracts, types, then the test suite.
test: lint
	$(BIN)/pytest -q

## bench: the benchmark table (bench/README.md); real pages from ../shared when present.
BENCH_PAGES ?= $(wildcard ../shared/eval/trafilatura-eval/pages)
BENCH_DATES ?= $(wildcard ../shared/eval/htmldate-dev)
bench: install
	$(BIN)/python -m bench.run $(if $(BENCH_PAGES),--pages $(BENCH_PAGES)) $(if $(BENCH_DATES),--dates $(BENCH_DATES))

## bench-quick: the same figures on small inputs, in about two minutes (CI smoke run).
bench-quick: install
	$(BIN)/python -m bench.run --quick $(if $(BENCH_PAGES),--pages $(BENCH_PAGES)) $(if $(BENCH_DATES),--dates $(BENCH_DATES))

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
