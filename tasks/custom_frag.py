"""custom-frag: your own oracle on fragment molecules (``--oracle package.module:function``).

The function takes a list of canonical SMILES and returns one float per molecule, the raw
score; the reward is R_max * (max(raw, 1e-3) / raw_max)^b. Results are cached per SMILES
and spread over processes like the sequence ``custom`` task.
"""

from __future__ import annotations

from molgfn.fragtask import FragmentTask
from molgfn.oracle import CachedOracle

from .custom import load_callable, not_loaded


class CustomFragTask(FragmentTask):
    name = "custom-frag"
    description = "your own oracle on fragment molecules (--oracle module:function taking SMILES)"

    def __init__(self, oracle: str, max_blocks: int = 8, vocab: str | None = None, reward_exponent: float = 1.0,
                 r_max: float = 1.0, raw_max: float = 1.0, allow_negative: bool = False, workers: int = 1) -> None:
        self.r_max, self.raw_max, self.allow_negative = float(r_max), float(raw_max), allow_negative
        super().__init__(max_blocks, vocab, reward_exponent)
        self.spec = oracle
        # oracle=None: a stored run opened without loading its oracle (sampling needs none)
        self.oracle = CachedOracle(oracle, load_callable(oracle), allow_negative, workers=workers) if oracle else None

    def raw_scores(self, smiles: list[str]) -> list[float]:
        if self.oracle is None:
            raise not_loaded()
        return self.oracle(smiles).tolist()

    def close(self) -> None:
        if self.oracle is not None:
            self.oracle.close()
