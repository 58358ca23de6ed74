# Quick start: `make demo` (set up, then run the main job on the embedded
# AV-Digits data) and `make test` (set up, then run the tests).
# Setup creates .venv if missing and installs only when a requirements file
# or setup.py changed, so a second run starts in seconds.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.mstkd-installed
REQS := requirements/runtime.txt requirements/mminstall.txt requirements/tests.txt

.PHONY: setup demo test clean

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

clean:
	rm -rf work_dirs demo/out
