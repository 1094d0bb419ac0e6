# SLA Portal: `make run` starts a demo portal, `make test` runs every test.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8000

# With no environment the portal runs on embedded defaults: SQLite, a filesystem broker,
# emails as files under var/mail/. DEBUG and demo mode are on for `make run` unless set.
run migrate: export DEBUG ?= 1
run migrate: export SLA_DEMO ?= 1

.PHONY: run test test-deps browser-deps install install-dev lint format check migrate clean

# What the tests need beyond Python: Debian's Chromium for the browser tests, Pango and the
# DejaVu fonts for the PDFs, poppler-utils to read PDFs back, and (when package.json lists
# them) the npm test tools such as axe-core. As root with apt-get they are installed; otherwise
# the one command to run is printed and `make test` stops before running anything.
CHROMIUM_PATH ?= /usr/bin/chromium
export CHROMIUM_PATH

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

migrate: install
	$(PY) manage.py migrate --noinput

run: migrate
	$(PY) manage.py seed_demo
	PORT=$(PORT) $(PY) manage.py run_portal $(RUN_ARGS)

test-deps:
	@missing=""; \
	[ -x "$(CHROMIUM_PATH)" ] || missing="$$missing chromium"; \
	$(PYTHON) -c "import ctypes.util, sys; sys.exit(not ctypes.util.find_library('pango-1.0'))" \
		|| missing="$$missing libpango-1.0-0 libpangoft2-1.0-0"; \
	[ -d /usr/share/fonts/truetype/dejavu ] || missing="$$missing fonts-dejavu-core"; \
	command -v pdftoppm >/dev/null 2>&1 || missing="$$missing poppler-utils"; \
	if [ -f package.json ] && [ ! -d node_modules/axe-core ] && ! command -v npm >/dev/null 2>&1; \
		then missing="$$missing npm"; fi; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "Installing what the tests need:$$missing"; \
			export DEBIAN_FRONTEND=noninteractive; \
			apt-get update -qq && apt-get install -y -qq $$missing >/dev/null || exit 1; \
		else \
			echo "make test needs system packages that are missing:$$missing" >&2; \
			echo "Install them with this one command, then run make test again:" >&2; \
			echo "" >&2; \
			echo "    sudo apt-get install -y$$missing" >&2; \
			echo "" >&2; \
			echo "(Not Debian or Ubuntu? Install the same with your package manager; a Chromium" >&2; \
			echo "elsewhere than $(CHROMIUM_PATH) is used with CHROMIUM_PATH=/path/to/chromium.)" >&2; \
			exit 1; \
		fi; \
	fi

browser-deps: test-deps

# axe-core (npm) runs inside the browser tests to check WCAG 2.2 AA.
node_modules/axe-core/axe.min.js: package.json package-lock.json
	npm ci --silent --no-audit --no-fund
	touch $@

# test-deps first: it installs npm when it is missing.
test: install-dev test-deps node_modules/axe-core/axe.min.js
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

format: install-dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

check: install-dev
	DJANGO_SETTINGS_MODULE=tests.settings $(PY) manage.py makemigrations --check --dry-run
	DJANGO_SETTINGS_MODULE=tests.settings $(PY) manage.py check

clean:
	rm -rf var/ staticfiles/ .pytest_cache

# --- Benchmarks (bench/README.md, docs/performance.md) --------------------------------------
# `make bench` generates a database (bench_s, bench_m, bench_l: dropped and created again),
# then measures every row of docs/performance.md beside its ceiling; results in var/bench/.
# BENCH_SIZE=S|M|L, BENCH_RUNS runs per row, BENCH_SECONDS per load run (M: 60 or more, the
# dashboard answers in seconds there), BENCH_GENERATE_ARGS e.g. --evaluate-limit 100000.
BENCH_SIZE ?= S
BENCH_RUNS ?= 3
BENCH_SECONDS ?= 10
BENCH_REDIS_URL ?= redis://127.0.0.1:6379/9
BENCH_GENERATE_ARGS ?=
BENCH_ARGS ?=

.PHONY: bench bench-deps bench-smoke

# wrk is the load generator; as root with apt-get it is installed, otherwise the command
# to run is printed.
bench-deps:
	@command -v wrk >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			DEBIAN_FRONTEND=noninteractive apt-get update -qq && apt-get install -y -qq wrk >/dev/null; \
		else \
			echo "make bench needs wrk: sudo apt-get install -y wrk" >&2; exit 1; \
		fi; }

bench: install bench-deps
	$(PY) -m bench.generate --size $(BENCH_SIZE) --redis-url $(BENCH_REDIS_URL) $(BENCH_GENERATE_ARGS)
	$(PY) -m bench.run --size $(BENCH_SIZE) --runs $(BENCH_RUNS) --seconds $(BENCH_SECONDS) \
		--redis-url $(BENCH_REDIS_URL) $(BENCH_ARGS)
	$(PY) -m bench.evaluation_uci --runs $(BENCH_RUNS)

# The harness end to end on a tiny volume, one run: proves it works, measures nothing.
bench-smoke: install-dev bench-deps
	$(PY) -m pytest -q -p no:cacheprovider -m slow tests/test_bench_smoke.py
