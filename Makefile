# Two commands set everything up on a fresh Python 3.11 machine:
#   make demo   - install, then run the main job (a short RNA1 design run)
#   make test   - install, then run the test suite
# GPU users: make demo TORCH="torch==2.13.0" TORCH_INDEX="--index-url <your CUDA wheel index>"
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
TORCH_INDEX ?=
# the test command installs every optional extra (Ray, GFN2-xTB, AutoDock Vina, run trackers, Parquet),
# so that their tests run rather than skip; `make install EXTRAS=dev` for a light set-up
EXTRAS ?= dev,ray,xtb,docking,tensorboard,mlflow,parquet,pmo
# guacamol's scoring functions, against which tests/test_pmo.py checks molgfn's PMO oracles: installed
# without its declared FCD and rdkit-pypi (they would replace our RDKit); the `pmo` extra has what it needs
GUACAMOL ?= guacamol==0.5.5
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install extras demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH)" $(TORCH_INDEX)
	$(PY) -m pip install -q -e ".[$(EXTRAS)]"
	$(PY) -m pip install -q --no-deps $(GUACAMOL)
	touch $(STAMP)

install: $(STAMP)

# every optional extra, into a venv installed before with a lighter EXTRAS
extras: $(STAMP)
	$(PY) -m pip install -q -e ".[dev,ray,xtb,docking,tensorboard,mlflow,parquet,pmo]"
	$(PY) -m pip install -q --no-deps $(GUACAMOL)

demo: $(STAMP)
	$(VENV)/bin/molgfn design --task rna1 --rounds 150 --num-candidates 100 --min-distance 2 --out runs/demo --seed 0 --overwrite

test: $(STAMP)
	$(PY) -m pytest -q -rs

lint: $(STAMP)
	$(VENV)/bin/ruff check .

bench: $(STAMP)
	$(PY) bench/throughput.py

clean:
	rm -rf $(VENV) runs
