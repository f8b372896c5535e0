# Two commands that work on a fresh machine; each installs what it needs into .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test bench schema clean

$(BIN)/kehoach: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

# The main job on the embedded default: check the plans in plans/ and print their agenda.
demo: $(BIN)/kehoach
	$(BIN)/kehoach check plans/*.yaml
	$(BIN)/kehoach compile plans/*.yaml

test: $(BIN)/kehoach
	$(BIN)/pytest -q

bench: $(BIN)/kehoach
	$(BIN)/python bench/compile_bench.py

schema: $(BIN)/kehoach
	$(BIN)/kehoach schema > schema/plan.schema.json

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .hypothesis
