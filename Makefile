# femgp: two commands on a fresh machine.
#   make demo   creates .venv (Python 3.12), installs .[all], runs the SENT fracture demo on 2 ranks
#   make test   ruff, the serial suite, then the mpi-marked tests under mpirun -n 2
SHELL := /bin/bash
VENV ?= .venv
NP ?= 2
PY := $(VENV)/bin/python
# Python 3.12: on PATH, or in pyenv's versions folder where the shim is not selected.
PYTHON312 ?= $(shell for p in python3.12 $$HOME/.pyenv/versions/3.12*/bin/python3.12 \
	/usr/local/bin/python3.12 /usr/bin/python3.12; do \
	"$$p" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' 2>/dev/null \
	&& { echo "$$p"; break; }; done)
EXTRAS ?= all
# pytest-xdist workers of the serial suite (test files are kept whole on one worker)
TEST_WORKERS ?= 2
DEMO_OUT ?= results/demo

.PHONY: demo test venv lint test-serial test-mpi test-paraview test-slow clean

$(VENV)/.installed-$(EXTRAS): pyproject.toml
	@test -n "$(PYTHON312)" || { echo "error: python3.12 not found (pyenv install 3.12 or set PYTHON312=...)" >&2; exit 2; }
	@test -x $(PY) || $(PYTHON312) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[$(EXTRAS)]'
	@rm -f $(VENV)/.installed-*
	@touch $@

venv: $(VENV)/.installed-$(EXTRAS)

demo: venv
	$(VENV)/bin/mpirun -n $(NP) $(PY) demos/fracture_sent.py --output $(DEMO_OUT) --overwrite

lint: venv
	$(VENV)/bin/ruff check .

# The torch suite runs in its own process: femgp.ml never imports dolfinx, and
# torch's threaded kernels crash in a process that has loaded PETSc and MPI.
test-serial: venv
	$(PY) -m pytest -m "not mpi and not slow and not torch" -q --durations=25 \
		-n $(TEST_WORKERS) --dist loadfile
	$(PY) -m pytest -m "torch and not slow" -q tests/ml

test-mpi: venv
	$(VENV)/bin/mpirun -n $(NP) $(PY) -m pytest -m "mpi and not slow" -q -p no:cacheprovider --durations=15 tests

test: lint test-serial test-mpi

# ParaView's pvbatch on a real fracture result (tests/paraview, marker `paraview`). It is
# part of test-serial, where it skips if pvbatch is missing; .ci/run installs ParaView
# and sets FEMGP_REQUIRE_PARAVIEW=1 so that it cannot skip there. This target insists.
test-paraview: venv
	FEMGP_REQUIRE_PARAVIEW=1 $(PY) -m pytest -m paraview -q tests/paraview

test-slow: venv
	$(PY) -m pytest -m slow -q

clean:
	rm -rf $(VENV) results .pytest_cache .ruff_cache
