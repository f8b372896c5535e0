# Two commands that work on a fresh machine; each installs what it needs into .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo agenda test lint deps bench schema clean
CHROMIUM := /usr/bin/chromium
# apt-get as root, or through sudo when there is one
SUDO := $(if $(filter 0,$(shell id -u)),,$(shell command -v sudo))

$(BIN)/kehoach: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

# The main job on the embedded default: load the plans in plans/ into the SQLite file
# kehoach.sqlite3, make a secretary login for each plan's issuing body (its password is
# printed once) and run the whole service, the board at http://127.0.0.1:8080/, until Ctrl-C.
demo: $(BIN)/kehoach
	$(BIN)/kehoach db upgrade
	$(BIN)/kehoach load plans
	$(BIN)/python -m kehoach.web.demo
	$(BIN)/kehoach serve

# Only check the plans and print their agenda (no database).
agenda: $(BIN)/kehoach
	$(BIN)/kehoach check plans
	$(BIN)/kehoach compile plans

# The whole suite. Needs PostgreSQL on 127.0.0.1:5432 (user postgres, database test) and,
# for the browser test, Debian's chromium (`make deps`). PYTEST_ARGS adds pytest options.
test: $(BIN)/kehoach
	$(BIN)/pytest -q $(PYTEST_ARGS)

# The style gates, configured in pyproject.toml: formatting, ruff's rules, mypy --strict on
# every package. Runs all three and fails when any of them finds something. One line a finding;
# `ruff format --diff FILE` shows what the formatter would change, `ruff check FILE` why.
lint: $(BIN)/kehoach
	@status=0; \
	$(BIN)/ruff format --check --output-format concise . || status=1; \
	$(BIN)/ruff check --output-format concise . || status=1; \
	$(BIN)/mypy || status=1; \
	exit $$status

# The system packages the tests need beyond Python: Debian's chromium (apt-get, as root or
# through sudo), only when it is missing.
deps:
	@if [ -x $(CHROMIUM) ]; then echo "$(CHROMIUM): already installed"; else \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; fi

bench: $(BIN)/kehoach
	$(BIN)/python bench/compile_bench.py
	$(BIN)/python bench/store_bench.py
	$(BIN)/python bench/telegram_bench.py
	$(BIN)/python bench/zalo_bench.py
	$(BIN)/python bench/feed_bench.py
	$(BIN)/python bench/import_bench.py
	$(BIN)/python bench/publish_bench.py

schema: $(BIN)/kehoach
	$(BIN)/kehoach schema > schema/plan.schema.json

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .hypothesis
