"""A sequence task around a user's oracle: ``--oracle package.module:function``.

The function takes a list of strings (length L over the given alphabet) and returns one
float per string, the raw score; the reward is max(raw, 1e-3)^b * R_max / raw_max^b.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable

from molgfn.errors import TaskError
from molgfn.oracle import CachedOracle
from molgfn.task import SequenceTask


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


def not_loaded() -> TaskError:
    return TaskError("this run's oracle was not loaded: pass --oracle MODULE:FUNCTION (or --trust-oracle) to score")


class CustomSequenceTask(SequenceTask):
    name = "custom"
    description = "your own oracle on sequences (--oracle module:function --alphabet --length)"

    def __init__(self, oracle: str, alphabet: str = "ACGT", length: int = 8, reward_exponent: float = 1.0,
                 r_max: float = 1.0, raw_max: float = 1.0, allow_negative: bool = False,
                 workers: int = 1) -> None:
        self.alphabet, self.length = alphabet, int(length)
        self.reward_exponent, self.r_max, self.raw_max = float(reward_exponent), float(r_max), float(raw_max)
        self.allow_negative = allow_negative
        super().__init__()
        self.spec = oracle
        # oracle=None: a stored run opened without loading its oracle (sampling needs none)
        self.oracle = CachedOracle(oracle, load_callable(oracle), allow_negative, workers=workers) if oracle else None

    def raw_scores(self, seqs: list[str]) -> list[float]:
        if self.oracle is None:
            raise not_loaded()
        return self.oracle(seqs).tolist()

    def close(self) -> None:
        if self.oracle is not None:
            self.oracle.close()
