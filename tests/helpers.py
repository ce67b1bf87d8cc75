"""Small enumerable tasks for exact checks."""

from __future__ import annotations

import torch

from molgfn.task import TabularSequenceTask


class TableTask(TabularSequenceTask):
    """A task whose raw scores are a fixed random table: every quantity is enumerable."""

    name = "table"
    reward_exponent = 1.0
    r_max = 1.0

    def __init__(self, alphabet: str = "AB", length: int = 4, seed: int = 0, append_only: bool = False,
                 spread: float = 3.0) -> None:
        self.alphabet, self.length, self.append_only = alphabet, length, append_only
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        # raw scores spanning a factor e^spread: a non-trivial target
        self._raw = torch.exp(-spread * torch.rand(len(alphabet) ** length, generator=g, dtype=torch.float64))

    def build_table(self) -> torch.Tensor:
        return self._raw
