"""A sequence task around a user's oracle: ``--oracle package.module:function``.

The function takes a list of strings (length L over the given alphabet) and returns one
float per string, the raw score; the reward is max(raw, 1e-3)^b * R_max / raw_max^b.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable

from molgfn.api import FunctionTask
from molgfn.errors import TaskError


def load_callable(spec: str) -> Callable:
    mod_name, sep, attr = spec.partition(":")
    if not sep or not mod_name or not attr:
        raise TaskError(f"--oracle must look like package.module:function, got {spec!r}")
    # the console script does not put the working directory on sys.path as `python -m` does;
    # a user's oracle module next to them should just work
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.append(cwd)
    try:
        mod = importlib.import_module(mod_name)
    except ImportError as e:
        raise TaskError(f"cannot import oracle module {mod_name!r}: {e}. Is it installed, or on PYTHONPATH?") from e
    fn = getattr(mod, attr, None)
    if not callable(fn):
        raise TaskError(f"{mod_name!r} has no callable {attr!r}")
    return fn


class CustomSequenceTask(FunctionTask):
    """The library's ``FunctionTask`` with the function named on the command line."""

    name = "custom"
    description = "your own oracle on sequences (--oracle module:function --alphabet --length)"

    def __init__(self, oracle: str | None, alphabet: str = "ACGT", length: int = 8, reward_exponent: float = 1.0,
                 r_max: float = 1.0, raw_max: float = 1.0, allow_negative: bool = False,
                 workers: int = 1, objectives: list[str] | None = None, weights: str | None = None,
                 transforms: list[str] | None = None) -> None:
        fn = load_callable(oracle) if oracle else None
        super().__init__(fn, alphabet, length, reward_exponent, r_max, raw_max, allow_negative, workers,
                         objectives=objectives, weights=weights, transforms=transforms)
        # oracle None: a stored run opened without loading its oracle (sampling needs none)
        self.spec = oracle
        if self.oracle is not None:
            self.oracle.name = oracle
