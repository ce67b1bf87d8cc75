"""custom-frag: your own oracle on fragment molecules (``--oracle package.module:function``).

The function takes a list of canonical SMILES and returns one float per molecule, the raw
score; the reward is R_max * (max(raw, 1e-3) / raw_max)^b. Results are cached per SMILES
and spread over processes like the sequence ``custom`` task.
"""

from __future__ import annotations

from molgfn.fragtask import FragmentTask
from molgfn.oracle import CachedOracle

from .custom import load_callable


class CustomFragTask(FragmentTask):
    name = "custom-frag"
    description = "your own oracle on fragment molecules (--oracle module:function taking SMILES)"

    def __init__(self, oracle: str, max_blocks: int = 8, vocab: str | None = None, reward_exponent: float = 1.0,
                 r_max: float = 1.0, raw_max: float = 1.0, allow_negative: bool = False, workers: int = 1,
                 filters: str | list[str] | None = None) -> None:
        self.r_max, self.raw_max, self.allow_negative = float(r_max), float(raw_max), allow_negative
        super().__init__(max_blocks, vocab, reward_exponent, filters)
        self.spec = oracle
        self.oracle = CachedOracle(oracle, load_callable(oracle), allow_negative, workers=workers)

    def raw_scores(self, smiles: list[str]) -> list[float]:
        return self.oracle(smiles).tolist()

    def close(self) -> None:
        self.oracle.close()
