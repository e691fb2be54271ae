# Factorial Connect — `make run` (demo on http://127.0.0.1:5000) and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
APP_PORT     ?= 5000
SANDBOX_PORT ?= 5001

.PHONY: run test lint typecheck pytest test-postgres clean bench

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
	env -u TEST_DATABASE_URL $(BIN)/python -m pytest $(PYTEST_ARGS)

# The suite again on the PostgreSQL server named by TEST_DATABASE_URL (browser tests excepted).
test-postgres: $(STAMP)
	@test -n "$(TEST_DATABASE_URL)" || { echo "test-postgres needs TEST_DATABASE_URL=postgresql+psycopg://…" >&2; exit 2; }
	$(BIN)/python -m pytest -m "not e2e" $(PYTEST_ARGS)

# lint + SQLite, then PostgreSQL as well when TEST_DATABASE_URL is set (.ci/run sets it).
test: lint pytest $(if $(TEST_DATABASE_URL),test-postgres)

bench: $(STAMP)
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) instance .pytest_cache .mypy_cache .ruff_cache
