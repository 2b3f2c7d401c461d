# Two commands a user runs: `make demo` and `make test`. Both create .venv when needed.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install lint bench clean

$(STAMP): pyproject.toml lab/pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[test,celery]' -e ./lab
	touch $(STAMP)

install: $(STAMP)

# Two pytest workers (one on a one-core machine): each file that starts Airflow stays on one worker
# (tests/conftest.py groups them), so two stacks run at once at most.
WORKERS ?= $(shell $(PY) -c "import os; print(min(2, os.cpu_count() or 1))")

test: lint
	$(BIN)/python -m pytest -q -p no:cacheprovider -n $(WORKERS) --dist loadfile $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

demo: $(STAMP)
	$(BIN)/aofctl demo

bench: $(STAMP)
	$(BIN)/pip install -q -c constraints.txt -e '.[bench]'
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf .state
