# endobench: `make demo` runs the whole pipeline on the bundled sample (offline); `make test` runs the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
UI_PORT ?= 3000

.PHONY: demo test test-slow ui e2e deploy-test bench install bedtools postgres clean-outputs

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,scale,dev]'
	rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

bedtools:
	@scripts/ensure_bedtools.sh

postgres:
	@scripts/ensure_postgres.sh

demo: $(STAMP) bedtools
	$(BIN)/endobench demo

test: $(STAMP) bedtools
	$(BIN)/python -m pytest -q -m 'not slow and not e2e and not deploy'

test-slow: $(STAMP) bedtools
	$(BIN)/python -m pytest -q -m 'slow and not e2e and not deploy'

ui: $(STAMP)
	$(BIN)/endobench ui --port $(UI_PORT)

e2e: $(STAMP) bedtools
	$(BIN)/python -m pip install --quiet -e '.[test,scale,dev,e2e]'
	$(BIN)/python -m pytest -q -m e2e endobench_tests/e2e

deploy-test: $(STAMP) bedtools postgres
	$(BIN)/python -m pytest -q -s -m deploy endobench_tests/deploy

bench: $(STAMP) bedtools
	$(BIN)/python bench/local_model_speed.py
	$(BIN)/python bench/motif_scan.py
	$(BIN)/python bench/alphagenome_throughput.py
	dir=$$(mktemp -d) && $(BIN)/python bench/ingest.py --workdir $$dir \
	  && $(BIN)/python bench/full_scale.py --workdir $$dir; status=$$?; rm -rf $$dir; exit $$status

clean-outputs:
	rm -rf data/outputs data/cache data/dagster_home data/screenshots
