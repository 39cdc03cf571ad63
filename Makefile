# Two commands on a fresh machine: `make run` and `make test`. Both install into .venv first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export FINTECH_DATA_DIR ?= $(CURDIR)/data
export DAGSTER_HOME ?= $(FINTECH_DATA_DIR)/dagster_home

.PHONY: install dagster-home run test test-fast ui daemon bench clean-data help

help:
	@echo "make run    install, simulate a demo month, materialize every asset, print a summary"
	@echo "make test   install and run the test suite"
	@echo "make ui     Dagster UI + daemon on http://127.0.0.1:3000 (DAGSTER_HOME under the data dir)"
	@echo "make daemon schedules, sensors and the run queue without the UI"
	@echo "make bench  run the benchmarks (JSON in benchmarks/results/)"

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "installing the project into $(VENV) (first time: about a minute) ..."
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	@touch $(STAMP)

install: $(STAMP)

# The instance lives under the data dir, configured by the project's dagster.yaml.
dagster-home:
	@mkdir -p $(DAGSTER_HOME)
	@test -f $(DAGSTER_HOME)/dagster.yaml || cp fintech_dataops/instance/dagster.yaml $(DAGSTER_HOME)/dagster.yaml

run: install
	$(BIN)/fintech-dataops demo

# Two pytest-xdist workers, whole files each (a file's module fixtures are built once), files with slow
# end-to-end tests handed out first (conftest.py). TEST_WORKERS=0 runs in one process.
TEST_WORKERS ?= 2
test: install dagster-home
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

test-fast: install
	$(BIN)/python -m pytest -m "not slow" -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

ui: install dagster-home
	$(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

daemon: install dagster-home
	$(BIN)/dagster-daemon run -w workspace.yaml

bench: install
	$(BIN)/python -m benchmarks

clean-data:
	rm -rf $(FINTECH_DATA_DIR)/landing $(FINTECH_DATA_DIR)/warehouse.duckdb* $(FINTECH_DATA_DIR)/models $(FINTECH_DATA_DIR)/reports
