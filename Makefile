# SLA Portal: `make run` starts a demo portal, `make test` runs every test.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8000

# With no environment the portal runs on embedded defaults: SQLite, a filesystem broker,
# emails as files under var/mail/. DEBUG and demo mode are on for `make run` unless set.
run migrate: export DEBUG ?= 1
run migrate: export SLA_DEMO ?= 1

.PHONY: run test install install-dev lint format check migrate clean

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
	PORT=$(PORT) $(PY) manage.py run_portal

# axe-core (npm) runs inside the browser tests to check WCAG 2.2 AA.
node_modules/axe-core/axe.min.js: package.json package-lock.json
	npm ci --silent --no-audit --no-fund
	touch $@

test: install-dev node_modules/axe-core/axe.min.js
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install-dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

check: install-dev
	DJANGO_SETTINGS_MODULE=tests.settings $(PY) manage.py makemigrations --check --dry-run
	DJANGO_SETTINGS_MODULE=tests.settings $(PY) manage.py check

clean:
	rm -rf var/ staticfiles/ .pytest_cache
