# Sökhund: `make demo` runs the main job end to end; `make test` runs the test suite.
# Both install what is missing first (`make setup`: Debian packages + .venv), and are quick the second time.
.PHONY: setup demo test lint bench clean

VENV := .venv
BIN := $(VENV)/bin
DAYS ?= 7

setup:
	@bash tools/setup.sh

demo: setup
	$(BIN)/sokhund demo --days $(DAYS)

test: setup
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -p no:cacheprovider -n 2 --dist loadfile tests

lint: setup
	$(BIN)/ruff check .

bench: setup
	@for b in benchmarks/[!_]*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf .sokhund
