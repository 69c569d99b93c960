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
	@# Exit status 1 means "findings": expected on the samples, so the demo does not fail on it.
	$(VENV)/bin/leakscan scan samples/ --output out/samples-report.json --key demo-key || [ $$? -eq 1 ]

sysdeps:
	@bash .ci/sysdeps.sh

test: $(STAMP) sysdeps
	$(PY) -m pytest -q

rules-test: $(STAMP)
	$(VENV)/bin/leakscan rules test

clean:
	rm -rf $(VENV) out .pytest_cache
