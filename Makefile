# GNU make. Targets: setup test run bench clean
#
#   make test                  serial suite, then MPI suite on 2 and 4 ranks
#   make run RUNARGS="..."     python -m dycore.run (under mpirun when NP > 1)
#   make run NP=4              same, on 4 MPI ranks
#   make bench                 quick benchmarks

SHELL       := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

VENV    := .venv
PYTHON  := $(VENV)/bin/python
PYTEST  := $(PYTHON) -m pytest

MPIRUN  ?= mpirun
# Open MPI refuses to start as root unless told to.
MPIFLAGS ?= $(if $(filter 0,$(shell id -u)),--allow-run-as-root)
NP      ?= 1
RUNARGS ?= --output output/unstable_jet.h5

export PYTHONUNBUFFERED := 1

.PHONY: all setup test run bench clean

all: test

setup:
	bash scripts/setup.sh

# pytest exits 5 when nothing is collected; for the MPI runs (-m mpi) that just
# means no MPI tests exist yet, so it counts as success there.
# -p no:cacheprovider keeps the ranks from racing on .pytest_cache.
define mpi_pytest
	@echo "$(MPIRUN) $(MPIFLAGS) $(1) $(PYTEST) -q -p no:cacheprovider --with-mpi -m mpi tests"
	@rc=0; $(MPIRUN) $(MPIFLAGS) $(1) $(PYTEST) -q -p no:cacheprovider --with-mpi -m mpi tests || rc=$$?; \
	if [[ $$rc -eq 5 ]]; then echo "make: no MPI tests collected ($(strip $(1))), ok"; rc=0; fi; \
	exit $$rc
endef

test: setup
	$(PYTEST) -q tests
	$(call mpi_pytest,-n 2)
	$(call mpi_pytest,--oversubscribe -n 4)

run: setup
	if [[ "$(NP)" -gt 1 ]]; then \
	  $(MPIRUN) $(MPIFLAGS) --oversubscribe -n $(NP) $(PYTHON) -m dycore.run $(RUNARGS); \
	else \
	  $(PYTHON) -m dycore.run $(RUNARGS); \
	fi

bench: setup
	$(PYTHON) -m benchmarks.run --quick

clean:
	rm -rf $(VENV) build dist .pytest_cache
	find . -path ./.git -prune -o -name '*.egg-info' -prune -exec rm -rf {} + \
	  -o -name __pycache__ -prune -exec rm -rf {} +
