# `make demo`, `make app` and `make test` each set up .venv (once) and then
# run. The venv holds the core install plus the test and [demo] (web page)
# extras, so that the browser test of the page runs too.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.rmt_mm_installed

.PHONY: demo app test setup clean

setup: $(STAMP)

$(STAMP): requirements/runtime.txt requirements/tests.txt requirements/demo.txt setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements/runtime.txt -r requirements/tests.txt -r requirements/demo.txt
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	touch $(STAMP)

demo: $(STAMP)
	$(PY) tools/demo.py

# The web page on the demo model (run `make demo` first).
app: $(STAMP)
	$(PY) tools/app.py configs/demo/rmt_tiny_digits.py demo_output/work/masks_final.pth --examples demo_output/data/test

test: $(STAMP)
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV) demo_output work_dirs
