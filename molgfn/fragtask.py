"""The fragment task interface: molecules built from blocks (``FragmentEnv``), scored on SMILES.

A plugin states its raw-score oracle on canonical SMILES and its reward transform

    R(x) = R_max * (max(r(x), raw_floor) / raw_max)^b

(b the reward exponent). The object key of a state is the canonical SMILES of its
molecule (``FragmentEnv.to_strings``), so the candidate table, the seen-object counts
and the replay buffer all work on distinct molecules. A state whose molecule fails
sanitisation (impossible with a checked vocabulary) gets raw = raw_floor, the minimum
reward, and is never listed as a candidate (``is_candidate``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from .envs.fragments import INVALID_PREFIX, FragmentEnv, load_vocab
from .task import Task


class FragmentTask(Task):
    name: str = "fragment"
    kind: str = "fragment"
    r_max: float = 1.0
    assets: tuple[str, ...] = ("seh-frag-blocks",)
    object_column: str = "smiles"
    space: str = "block trees (105 blocks, <= 8)"

    def __init__(self, max_blocks: int = 8, vocab: str | None = None, reward_exponent: float | None = None) -> None:
        if reward_exponent is not None:
            self.reward_exponent = float(reward_exponent)
        if vocab is not None:
            self.assets = tuple(a for a in self.assets if a != "seh-frag-blocks")
        self.env = FragmentEnv(load_vocab(vocab), int(max_blocks))
        self.reward_calls = 0
        self.num_blocks: dict[str, int] = {}  # SMILES -> blocks of the state it was first seen as

    # -- the oracle ------------------------------------------------------------------------
    def raw_scores(self, smiles: list[str]) -> Sequence[float]:
        """Raw score r(x) of each (valid, canonical) SMILES. Plugins override this."""
        raise NotImplementedError

    def score_smiles(self, smiles: list[str]) -> np.ndarray:
        from .oracle import call_oracle

        return call_oracle(self.name, self.raw_scores, smiles, self.allow_negative)

    def score_tokens(self, states: torch.Tensor) -> torch.Tensor:
        """Raw scores of a batch of states (float64), without counting reward calls."""
        calls = self.reward_calls
        raw, _ = self.evaluate(states)
        self.reward_calls = calls
        return raw

    def evaluate(self, states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(raw, log R) for a batch of states; counts reward calls (the oracle budget)."""
        smiles = self.env.to_strings(states)
        nb = self.env.num_blocks(states).tolist()
        raw = np.full(len(smiles), self.raw_floor, dtype=np.float64)
        ok = [i for i, s in enumerate(smiles) if self.is_candidate(s)]
        if ok:
            uniq = list(dict.fromkeys(smiles[i] for i in ok))
            vals = dict(zip(uniq, self.score_smiles(uniq).tolist(), strict=True))
            raw[ok] = [vals[smiles[i]] for i in ok]
        for s, n in zip(smiles, nb, strict=True):
            self.num_blocks.setdefault(s, n)
        self.reward_calls += len(smiles)
        raw_t = torch.from_numpy(raw)
        return raw_t, self.log_reward(raw_t)

    # -- hooks used by the trainer, candidates and the CLI ---------------------------------
    @staticmethod
    def is_candidate(obj: str) -> bool:
        return bool(obj) and not obj.startswith(INVALID_PREFIX)

    def extra_columns(self, objs: list[str]) -> dict[str, list]:
        """Per-molecule columns for candidates.csv: QED, molecular weight, number of blocks."""
        from rdkit import Chem
        from rdkit.Chem import QED, Descriptors

        qed, mw = [], []
        for s in objs:
            mol = Chem.MolFromSmiles(s) if self.is_candidate(s) else None
            qed.append(QED.qed(mol) if mol is not None else float("nan"))
            mw.append(Descriptors.MolWt(mol) if mol is not None else float("nan"))
        nb = [self.num_blocks.get(s, float("nan")) for s in objs]
        return {"qed": qed, "mol_weight": mw, "num_blocks": nb}

    def state_dict(self) -> dict:
        return {"num_blocks": dict(self.num_blocks)}

    def load_state_dict(self, state: dict) -> None:
        self.num_blocks.update(state.get("num_blocks", {}))

    def score_table(self, smiles: list[str], row_offset: int = 1):
        """Score user molecules (SMILES, any form): canonical SMILES, raw score, reward and
        extra columns. Unparsable SMILES raise ``InputError`` naming their rows."""
        import pandas as pd
        from rdkit import Chem, RDLogger

        from .errors import InputError

        RDLogger.DisableLog("rdApp.*")
        try:
            mols = [Chem.MolFromSmiles(s) if s else None for s in smiles]
        finally:
            RDLogger.EnableLog("rdApp.*")
        bad = [(i, s) for i, (s, m) in enumerate(zip(smiles, mols, strict=True)) if m is None]
        if bad:
            shown = "; ".join(f"row {i + row_offset}: {s!r}" for i, s in bad[:10])
            raise InputError(f"{len(bad)} invalid SMILES for task {self.name}: {shown}")
        canon = [Chem.MolToSmiles(m) for m in mols]
        raw = self.score_smiles(canon)
        df = pd.DataFrame({"input": smiles, "smiles": canon, "raw_score": raw,
                           "reward": torch.exp(self.log_reward(torch.from_numpy(raw))).numpy()})
        extra = self.extra_columns(canon)
        extra.pop("num_blocks", None)  # unknown for molecules not built from blocks
        for name, col in extra.items():
            df[name] = col
        return df
