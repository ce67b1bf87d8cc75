"""molgfn: design molecules and biological sequences with Generative Flow Networks.

The public API (see ``molgfn.api`` and the README's "Python API" section)::

    from molgfn import FunctionTask, design
    df = design(FunctionTask(my_function, alphabet="ACGT", length=12), rounds=200)

Names are imported on first use, so ``import molgfn`` stays cheap.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    # verbs
    "design": "api", "train": "api", "sample": "api", "rank_candidates": "api", "load_run": "api",
    "make_config": "api",
    # tasks
    "FunctionTask": "api", "MoleculeFunctionTask": "api", "Task": "task", "SequenceTask": "task",
    "TabularSequenceTask": "task", "FragmentTask": "fragtask",
    "ScoringTask": "scoring_task", "load_scoring": "chem.scoring",  # scoring files (README: your objective)
    # configuration and training
    "TrainConfig": "config", "Trainer": "trainer",
    # multi-objective
    "Component": "moo", "WeightedSum": "moo", "pareto_rank": "moo", "hypervolume": "moo",
    # errors
    "MolgfnError": "errors", "InputError": "errors", "OracleError": "errors", "TaskError": "errors",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    mod = _EXPORTS.get(name)
    if mod is None:
        raise AttributeError(f"module 'molgfn' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{mod}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
