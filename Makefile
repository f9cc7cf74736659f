# Two commands on a fresh machine: `make run` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint install crawl clean bench bench-quick browser screenshots web demo

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

## test: lint, layering contracts, types, then the test suite (with the browser tests).
test: lint browser
	$(BIN)/pytest -q

# Debian packages the tests use: chromium, which the browser tests drive through Playwright
# (Playwright never downloads a browser of its own), and faketime, which runs a process whose
# clock reads ahead of the others' (leases shared by machines whose clocks disagree).
CHROMIUM ?= /usr/bin/chromium
FAKETIME ?= /usr/bin/faketime
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

## browser: install Debian's chromium (and faketime) for the tests when missing.
browser:
	@set -- $$(test -x $(CHROMIUM) || echo chromium) $$(test -x $(FAKETIME) || echo faketime); \
	if [ $$# -gt 0 ]; then $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq "$$@"; fi

## screenshots: the browser tests, saving each page's screenshot in docs/screenshots.
screenshots: install browser
	EVENTWATCH_SCREENSHOTS=docs/screenshots $(BIN)/pytest -q tests/web/test_browser.py

## demo: offline: sample sites, an SMTP sink, a webhook receiver and the daemon; prints the UI's URL.
demo: install
	exec $(BIN)/python -m tests.demo

## web: the web UI alone (the daemon serves it too, on daemon.listen).
web: install
	$(BIN)/eventwatch db upgrade
	exec $(BIN)/eventwatch web

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
