"""A sequence task around a user's oracle: ``--oracle package.module:function``.

The function takes a list of strings (length L over the given alphabet) and returns one
float per string, the raw score; the reward is max(raw, 1e-3)^b * R_max / raw_max^b.
"""

from __future__ import annotations

from molgfn.api import FunctionTask
from molgfn.oracle.loading import load_callable


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
