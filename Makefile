# GNU make. Targets: setup test run bench fortran clean
#
#   make test                  serial suite, then MPI suite on 2 and 4 ranks
#   make run RUNARGS="..."     python -m dycore.run (under mpirun when NP > 1)
#   make run NP=4              same, on 4 MPI ranks
#   make bench                 quick benchmarks (builds the Fortran baseline first)
#   make fortran               the Fortran+MPI baseline benchmarks/fortran/build/swe_mpi
#   make fortran-vec-report    which of its loops gfortran vectorised (-fopt-info-vec)
#   make reference-env         .venv-reference/ with Dinosaur, for benchmarks/sphere_reference.py

SHELL       := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

VENV    := .venv
PYTHON  := $(VENV)/bin/python
PYTEST  := $(PYTHON) -m pytest

MPIRUN  ?= mpirun
# Open MPI refuses to start as root unless told to.
MPIFLAGS ?= $(if $(filter 0,$(shell id -u)),--allow-run-as-root)
NP      ?= 1
RUNARGS ?= --output output/unstable_jet.h5 --overwrite

export PYTHONUNBUFFERED := 1
# glibc's malloc backs large blocks with transparent huge pages (glibc >= 2.35;
# older ones ignore it): XLA allocates a jitted call's buffers afresh and
# first-touching them was ~1/3 of a one-step call at 1M cells (docs/performance.md, Round 3).
export GLIBC_TUNABLES ?= glibc.malloc.hugetlb=1

# Fortran+MPI baseline (benchmarks/fortran, issue #5). -O3 -march=native as
# the issue asks: -O3 turns on the loop vectoriser, -march=native the host's
# widest SIMD (AVX2 + FMA here; gfortran contracts a*b+c into FMAs, which
# moves results by round-off only: agreement with JAX stays ~1e-13).
# Nothing that changes the arithmetic (-ffast-math) is used.
FFLAGS      ?= -O3 -march=native -fno-trapping-math
FORTRAN_DIR := benchmarks/fortran
FORTRAN_BLD := $(FORTRAN_DIR)/build
FORTRAN_EXE := $(FORTRAN_BLD)/swe_mpi
FORTRAN_OBJ := $(addprefix $(FORTRAN_BLD)/,swe_common.o swe_solver_dp.o swe_solver_sp.o swe_mpi.o)
# The MPI compiler wrapper, unless FC is given (make's built-in default is f77).
ifeq ($(origin FC),default)
FC := mpif90
endif

.PHONY: all setup test run bench fortran fortran-vec-report clean

all: test

setup:
	bash scripts/setup.sh

# pytest exits 5 when nothing is collected; for the MPI runs (-m mpi) that just
# means no MPI tests exist yet, so it counts as success there.
# -p no:cacheprovider keeps the ranks from racing on .pytest_cache.
# $(1): mpirun's options, $(2): the test files.
define mpi_pytest
	@echo "$(MPIRUN) $(MPIFLAGS) $(1) $(PYTEST) -q -p no:cacheprovider --with-mpi -m mpi $(2)"
	@rc=0; $(MPIRUN) $(MPIFLAGS) $(1) $(PYTEST) -q -p no:cacheprovider --with-mpi -m mpi $(2) || rc=$$?; \
	if [[ $$rc -eq 5 ]]; then echo "make: no MPI tests collected ($(strip $(1))), ok"; rc=0; fi; \
	exit $$rc
endef

# On 4 ranks (oversubscribed on small machines) only the tests where a 2 x 2
# process grid adds something over 2 ranks: decomposition invariance with
# tile corners, gradients across ranks, restarts on another rank count. The
# driver, file and loop tests do the same on 2 and 4 ranks and run on 2.
MPI4_TESTS ?= tests/test_parallel_mpi.py tests/test_autodiff_mpi.py tests/test_restart_mpi.py

test: setup
	$(PYTEST) -q --durations=30 tests
	$(call mpi_pytest,-n 2,tests)
	$(call mpi_pytest,--oversubscribe -n 4,$(MPI4_TESTS))

run: setup
	if [[ "$(NP)" -gt 1 ]]; then \
	  $(MPIRUN) $(MPIFLAGS) --oversubscribe -n $(NP) $(PYTHON) -m dycore.run $(RUNARGS); \
	else \
	  $(PYTHON) -m dycore.run $(RUNARGS); \
	fi

bench: setup fortran
	$(PYTHON) -m benchmarks.run --quick

fortran: $(FORTRAN_EXE)

$(FORTRAN_EXE): $(FORTRAN_OBJ)
	$(FC) $(FFLAGS) -o $@ $^

$(FORTRAN_BLD)/%.o: $(FORTRAN_DIR)/%.f90 | $(FORTRAN_BLD)
	$(FC) $(FFLAGS) -I$(FORTRAN_DIR) -J$(FORTRAN_BLD) -c $< -o $@

# Module dependencies (the solver modules include the kind-generic body).
$(FORTRAN_BLD)/swe_solver_dp.o $(FORTRAN_BLD)/swe_solver_sp.o: \
	$(FORTRAN_BLD)/swe_common.o $(FORTRAN_DIR)/swe_solver.inc
$(FORTRAN_BLD)/swe_mpi.o: $(FORTRAN_BLD)/swe_common.o $(FORTRAN_BLD)/swe_solver_dp.o \
	$(FORTRAN_BLD)/swe_solver_sp.o

$(FORTRAN_BLD):
	mkdir -p $@

# The vectoriser's report for the double-precision solver (loops by line of
# swe_solver.inc), written to $(FORTRAN_BLD)/vec-report.txt.
fortran-vec-report: $(FORTRAN_BLD)/swe_common.o
	$(FC) $(FFLAGS) -fopt-info-vec-optimized -I$(FORTRAN_DIR) -J$(FORTRAN_BLD) \
	  -c $(FORTRAN_DIR)/swe_solver_dp.f90 -o $(FORTRAN_BLD)/vec-report.o \
	  2> $(FORTRAN_BLD)/vec-report.txt
	grep -c 'loop vectorized' $(FORTRAN_BLD)/vec-report.txt

clean:
	rm -rf $(VENV) build dist .pytest_cache $(FORTRAN_BLD)
	find . -path ./.git -prune -o -name '*.egg-info' -prune -exec rm -rf {} + \
	  -o -name __pycache__ -prune -exec rm -rf {} +

# The hybrid-modelling examples (examples/, issue #4): installs the optional
# `examples` extra (optax, matplotlib) into the venv once, with a stamp that
# records a hash of pyproject.toml (like scripts/setup.sh), then runs the three
# examples on EXAMPLES_NP ranks. EXAMPLEARGS="--quick" for a smoke run.
# Each example saves its plot to examples/output/NAME.png; the target fails
# if any example misses its success criterion.
EXAMPLES       := parameter_estimation four_d_var neural_closure
EXAMPLES_NP    ?= 2
EXAMPLEARGS    ?=
EXAMPLES_STAMP := $(VENV)/.dycore-examples-stamp

.PHONY: examples
examples: setup
	@want="$$(sha256sum pyproject.toml | cut -d' ' -f1)"; \
	if [[ -f $(EXAMPLES_STAMP) && "$$(cat $(EXAMPLES_STAMP))" == "$$want" ]] \
	   && (cd / && $(CURDIR)/$(PYTHON) -c 'import optax, matplotlib') >/dev/null 2>&1; then \
	  echo "examples: optional dependencies up to date"; \
	else \
	  echo "$(VENV)/bin/pip install --no-build-isolation -e '.[examples]'"; \
	  $(VENV)/bin/pip install --no-build-isolation -e '.[examples]'; \
	  echo "$$want" > $(EXAMPLES_STAMP); \
	fi
	@rc=0; for ex in $(EXAMPLES); do \
	  echo "$(MPIRUN) $(MPIFLAGS) --oversubscribe -n $(EXAMPLES_NP) $(PYTHON) examples/$$ex.py $(EXAMPLEARGS)"; \
	  $(MPIRUN) $(MPIFLAGS) --oversubscribe -n $(EXAMPLES_NP) $(PYTHON) examples/$$ex.py $(EXAMPLEARGS) \
	    || { echo "make: example $$ex failed"; rc=1; }; \
	done; exit $$rc

# The spectral reference of the sphere's tests 5, 6 and Galewsky
# (benchmarks/sphere_reference.py make-reference; docs/sphere.md): Dinosaur,
# Google's spectral transform dycore, in its own environment, never in
# $(VENV) (it pins its own jax). Only that command needs it.
REFERENCE_VENV := .venv-reference
REFERENCE_REQS := dinosaur==1.5.1

.PHONY: reference-env
reference-env: $(REFERENCE_VENV)/.stamp

$(REFERENCE_VENV)/.stamp:
	python3 -m venv $(REFERENCE_VENV)
	$(REFERENCE_VENV)/bin/pip install $(REFERENCE_REQS)
	$(REFERENCE_VENV)/bin/pip freeze > $@
