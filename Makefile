# Two commands set everything up on a fresh Python 3.11 machine:
#   make demo   - install, then run the main job (a short RNA1 design run)
#   make test   - install, then run the test suite, less the slow tests (pytest -m "not slow")
#   make test-slow - the slow tests alone (statistical, convergence, Ray/process end-to-end); make test-all: both
# GPU users: make demo TORCH="torch==2.13.0" TORCH_INDEX="--index-url <your CUDA wheel index>"
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
TORCH_INDEX ?=
# the test command installs every optional extra (Ray, GFN2-xTB, AutoDock Vina with dockstring's 58 targets,
# run trackers, Parquet), so that their tests run rather than skip; `make install EXTRAS=dev` for a light set-up
EXTRAS ?= dev,ray,xtb,docking,tensorboard,mlflow,parquet,pmo
# guacamol's scoring functions, against which tests/test_pmo.py checks molgfn's PMO oracles: installed
# without its declared FCD and rdkit-pypi (they would replace our RDKit); the `pmo` extra has what it needs
GUACAMOL ?= guacamol==0.5.5
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install extras demo test test-slow test-all lint bench clean

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
	@echo ""
	@echo "Next (the candidates, the report, the metrics):"
	@echo "  column -s, -t runs/demo/candidates.csv | head -20"
	@echo "  $(VENV)/bin/molgfn report runs/demo      # then open runs/demo/report.html in a browser"
	@echo "  $(VENV)/bin/molgfn evaluate runs/demo    # modes found, top-100 score and diversity, calibration"
	@echo "  $(VENV)/bin/molgfn design --help         # every option; README.md: molecules, your own oracle, clusters"

# the README's test command: every test but those marked slow (pyproject.toml, [tool.pytest.ini_options])
test: $(STAMP)
	$(PY) -m pytest -q -rs -m "not slow"

test-slow: $(STAMP)
	$(PY) -m pytest -q -rs -m slow

# the whole suite, in one run (what `make test` was before the split)
test-all: $(STAMP)
	$(PY) -m pytest -q -rs

lint: $(STAMP)
	$(VENV)/bin/ruff check .

bench: $(STAMP)
	$(PY) bench/throughput.py

clean:
	rm -rf $(VENV) runs
