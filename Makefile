# `make demo`, `make app` and `make test` each set up .venv (once) and then
# run. The venv holds the core install plus the test and [demo] (web page)
# extras, so that the browser test of the page runs too.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.rmt_mm_installed

.PHONY: demo demo-methods app test mutation setup clean

setup: $(STAMP)

$(STAMP): requirements/runtime.txt requirements/tests.txt requirements/demo.txt setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements/runtime.txt -r requirements/tests.txt -r requirements/demo.txt
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	touch $(STAMP)

demo: $(STAMP)
	$(PY) tools/demo.py

demo-methods: $(STAMP)
	$(PY) tools/demo.py --methods

# The web page on the demo model (run `make demo` first).
app: $(STAMP)
	$(PY) tools/app.py projects/miniature/configs/rmt_mini_compositions_16shot.py \
	    compositions=demo_output/work/miniature/masks_final.pth \
	    --examples demo_output/data/compositions/test \
	    --cfg-options test_dataloader.dataset.data_root=demo_output/data/compositions

# Two workers (one torch thread each; tests/conftest.py), a test file per
# worker at a time; the 15 slowest tests are printed so that slowness stays
# visible. TEST_JOBS=0 runs everything in one process.
TEST_JOBS ?= 2
test: $(STAMP)
	$(PY) -m pytest -q -n $(TEST_JOBS) --dist loadfile --durations=15

# Mutation testing of the core modules (slow, not in CI): mutmut mutates
# them, runs the tests listed in setup.cfg [mutmut] that reach each mutant,
# and the report prints the kill rate (docs/mutation_testing.md). At low
# priority; MUTATION_JOBS parallel workers; `make mutation MUTANTS=...`
# runs only the mutants whose names match the given globs.
MUTATION_JOBS ?= 1
MUTANTS ?=
mutation: $(STAMP)
	$(PY) -m pip install -q -r requirements/mutation.txt
	nice -n 19 $(VENV)/bin/mutmut run --max-children $(MUTATION_JOBS) $(MUTANTS)
	$(VENV)/bin/mutmut export-cicd-stats
	$(PY) tools/mutation_report.py

clean:
	rm -rf $(VENV) demo_output work_dirs mutants
