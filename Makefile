# Quick start: `make demo` (set up, then run the main job on the embedded
# AV-Digits data) and `make test` (set up, then run the tests).
# Setup creates .venv if missing and installs only when a requirements file
# or setup.py changed, so a second run starts in seconds.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.mstkd-installed
REQS := requirements/runtime.txt requirements/mminstall.txt requirements/tests.txt

.PHONY: setup demo test benchmark clean

# The AV-Digits benchmark (the paper's Table 1 layout: w/o KD, the
# baselines, MST-Distill; both target modalities; 5 seeds) on a short
# schedule, the same for every method: 10 student epochs (split over a
# method's stages). Resumable: the same command continues it.
BENCH_EPOCHS ?= 10
BENCH_JOBS ?= 2
BENCH_DIR ?= work_dirs/benchmark_avdigits

setup: $(STAMP)

$(STAMP): setup.py $(REQS)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet $(addprefix -r ,$(REQS))
	$(PY) -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

demo: setup
	$(PY) demo/run_demo.py

test: setup
	$(PY) -m pytest tests

benchmark: setup
	$(PY) tools/analysis_tools/benchmark.py configs/benchmarks/avdigits_table1.py \
		--work-dir $(BENCH_DIR) --seeds 0-4 --epochs $(BENCH_EPOCHS) \
		--jobs $(BENCH_JOBS)

clean:
	rm -rf work_dirs demo/out
