"""custom-frag: your own oracle on fragment molecules (``--oracle package.module:function``), or
your objective as a scoring file (``--scoring scoring.toml``, ``molgfn.chem.scoring``).

The function takes a list of canonical SMILES and returns one float per molecule, the raw
score; the reward is R_max * (max(raw, 1e-3) / raw_max)^b. Results are cached per SMILES
and spread over processes like the sequence ``custom`` task. With a scoring file the raw
score is its aggregate of components (``molgfn.scoring_task``).
"""

from __future__ import annotations

from molgfn.api import MoleculeFunctionTask
from molgfn.oracle.loading import load_callable
from molgfn.scoring_task import ScoringMixin


class CustomFragTask(ScoringMixin, MoleculeFunctionTask):
    """The library's ``MoleculeFunctionTask`` with the function named on the command line."""

    name = "custom-frag"
    description = "your own oracle (--oracle module:function taking SMILES) or --scoring FILE on fragment molecules"

    def __init__(self, oracle: str | None = None, max_blocks: int = 8, vocab: str | None = None,
                 reward_exponent: float = 1.0, r_max: float = 1.0, raw_max: float = 1.0, allow_negative: bool = False,
                 workers: int = 1, objectives: list[str] | None = None, weights: str | None = None,
                 transforms: list[str] | None = None, filters: str | list[str] | None = None,
                 scoring: dict | str | None = None, load_code: bool = True) -> None:
        fn = load_callable(oracle) if oracle else None
        super().__init__(fn, max_blocks, vocab, reward_exponent, r_max, raw_max, allow_negative, workers,
                         objectives=objectives, weights=weights, transforms=transforms, filters=filters)
        # oracle None: a stored run opened without loading its oracle (sampling needs none)
        self.spec = oracle
        if self.oracle is not None:
            self.oracle.name = oracle
        if scoring is not None:  # the scoring file's oracle components load as --oracle does, when trusted
            self.use_scoring(scoring, load_callable if load_code else None, workers)
