# Two commands for a newcomer: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cksum requirements.txt | cut -d' ' -f1)

.PHONY: run serve test install lint migrate demo bench

$(STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

# Browser-test tools (axe-core, injected into pages by the Playwright tests); none of it is served.
NODE_STAMP := node_modules/.installed-$(shell cksum package-lock.json | cut -d' ' -f1)
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	rm -f node_modules/.installed-*
	touch $(NODE_STAMP)

# Development settings for `make run` (debug, 模拟支付 sandbox on, SQLite, embedded broker).
.env:
	printf 'DJANGO_DEBUG=1\nPAYMENTS_SANDBOX=1\n' > .env

migrate: install .env
	$(PY) manage.py migrate --noinput

demo: migrate
	$(PY) manage.py setup_periodic_tasks
	$(PY) manage.py seed_demo

# bin/run stops every process of the Procfile on Ctrl-C, SIGTERM or SIGHUP, or when make goes away.
PROCFILE ?= Procfile
SERVE = $(PY) bin/run $(PROCFILE)

run: demo
	@echo "Starting web, worker and beat; Ctrl-C (or SIGTERM, SIGHUP) stops all three."
	$(SERVE)

# Only start the Procfile's processes (`make run` does this after install, migrate and demo data).
serve:
	$(SERVE)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# Two pytest-xdist workers by default (each with its own test database); PYTEST_WORKERS=0 runs in one process.
PYTEST_WORKERS ?= 2
test: lint $(NODE_STAMP)
	$(PY) -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

# The release minute and a day's traffic through gunicorn, Redis and PostgreSQL, measured with wrk
# (Debian packages wrk, redis-server, postgresql-client). Its own database, hospital_bench. See README "Performance".
bench: install
	$(PY) bench/run.py $(BENCH_ARGS)
