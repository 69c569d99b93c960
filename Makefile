# leakscan — everything a fresh machine needs, from the project's own files.
#   make demo   set up, then scan the bundled samples and crawl the sample site served on 127.0.0.1
#   make test   set up, then run the whole suite
#   make bench  set up, then print the benchmark figures (bench/README.md)
#   make clean  remove the environment and generated output

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test bench rules-test sysdeps clean

# the compiled PDF loops (setup.py) are rebuilt when their sources change
$(STAMP): pyproject.toml setup.py scanner/extract/_pdfpage.pyx scanner/extract/_layout.py scanner/extract/_layout.pxd
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,ocr]'
	touch $(STAMP)

demo: $(STAMP)
	@mkdir -p out
	@# Exit status 1 means "findings": expected on the samples, so the demo does not fail on it.
	@echo "== 1/2 发布前自查：扫描 samples/ 文件夹"
	$(VENV)/bin/leakscan scan samples/ --output out/samples-report.xlsx --key demo-key || [ $$? -eq 1 ]
	@echo "== 2/2 在线巡查：在 127.0.0.1 上运行示例网站并抓取检查"
	$(PY) tools/demo_site.py --output out/site-report.html --key demo-key || [ $$? -eq 1 ]
	@echo "报告：out/samples-report.xlsx（整改清单）、out/site-report.html（可打印报告）"

sysdeps:
	@bash .ci/sysdeps.sh

test: $(STAMP) sysdeps
	$(PY) -m pytest -q

bench: $(STAMP)
	@bash bench/setup.sh $(PY)
	$(PY) bench/run.py

rules-test: $(STAMP)
	$(VENV)/bin/leakscan rules test

clean:
	rm -rf $(VENV) out .pytest_cache build
	rm -f scanner/extract/*.so scanner/extract/_pdfpage.c scanner/extract/_layout.c
