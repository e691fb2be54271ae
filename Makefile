# Factorial Connect — `make run` (demo on http://127.0.0.1:5000) and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
APP_PORT     ?= 5000
SANDBOX_PORT ?= 5001

.PHONY: run test lint typecheck pytest test-postgres test-production clean bench

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is required")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	@bash scripts/run-demo.sh $(BIN) $(APP_PORT) $(SANDBOX_PORT)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check app sandbox tests bench
	$(BIN)/mypy

# The suite on SQLite, always, even when TEST_DATABASE_URL is set (that run is test-postgres's).
# A run that collects no test exits 5, which fails make like any other non-zero status.
pytest: $(STAMP)
	env -u TEST_DATABASE_URL $(BIN)/python -m pytest -m "not production" $(PYTEST_ARGS)

# The suite again on the PostgreSQL server named by TEST_DATABASE_URL (browser tests excepted).
test-postgres: $(STAMP)
	@test -n "$(TEST_DATABASE_URL)" || { echo "test-postgres needs TEST_DATABASE_URL=postgresql+psycopg://…" >&2; exit 2; }
	$(BIN)/python -m pytest -m "not e2e and not production" $(PYTEST_ARGS)

# The shipped deployment end to end (tests/production): nginx with deploy/'s site, gunicorn as
# the web unit starts it, the sweep as worker and as cron, its own PostgreSQL and Redis, Chromium
# over HTTPS. Skips, saying why, without nginx, openssl, PostgreSQL, Redis or Chromium; with
# CI=true it fails instead. Logs: test-artifacts/production/.
test-production: $(STAMP)
	$(BIN)/python -m pytest -m production tests/production $(PYTEST_ARGS)

# lint + SQLite, then PostgreSQL as well when TEST_DATABASE_URL is set (.ci/run sets it), then
# the production suite.
test: lint pytest $(if $(TEST_DATABASE_URL),test-postgres) test-production

# Every benchmark once; the soak for 3 minutes here (run bench/soak.py alone for its 30).
bench: $(STAMP)
	@for b in bench/[!_]*.py; do echo "== $$b"; \
		if [ $$b = bench/soak.py ]; then $(BIN)/python $$b --minutes 3 || exit 1; \
		else $(BIN)/python $$b || exit 1; fi; done

clean:
	rm -rf $(VENV) instance .pytest_cache .mypy_cache .ruff_cache
