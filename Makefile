# leakscan — everything a fresh machine needs, from the project's own files.
#   make demo   set up, then scan the bundled samples (table on screen, JSON report in out/)
#   make test   set up, then run the whole suite
#   make bench  set up, then print the benchmark figures (bench/README.md)
#   make clean  remove the environment and generated output

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test bench rules-test sysdeps clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	@mkdir -p out
	-$(VENV)/bin/leakscan scan samples/ --format json --output out/samples-report.json --key demo-key
	-$(VENV)/bin/leakscan scan samples/ --format table --key demo-key
	@echo "JSON report: out/samples-report.json"

sysdeps:
	@bash .ci/sysdeps.sh

test: $(STAMP) sysdeps
	$(PY) -m pytest -q

rules-test: $(STAMP)
	$(VENV)/bin/leakscan rules test

clean:
	rm -rf $(VENV) out .pytest_cache
