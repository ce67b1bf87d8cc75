"""seh-frag-moo: four objectives of fragment molecules, preference-conditioned or a fixed weighted sum.

The objectives of recursionpharma/gflownet's ``seh_frag_moo`` task (Jain et al., ICML 2023),
each normalised to [0, 1]:

- ``seh``: the sEH docking proxy (seh-frag) / 8, clipped to [0, 1];
- ``qed``: RDKit QED;
- ``sa``: (10 - SA) / 9, SA the synthetic accessibility score (Ertl & Schuffenhauer 2009,
  RDKit Contrib ``sascorer``; 1 easy .. 10 hard);
- ``mw``: 1 up to 300 Da, then falling linearly to 0 at 1,000 Da.

By default (no ``--weights``) one sampler is trained for every weighting, as in the paper:
each trajectory gets w ~ Dirichlet(1 1_k) and the reward R(x | w) = max(sum_i w_i y_i, 1e-3)^b
(``molgfn.conditioning``, ``--preference-dist``); ``molgfn sample RUN --preference W`` draws at
any w afterwards. With ``--weights`` the raw score is the fixed r = sum_i w_i y_i / sum_i w_i and
R = max(r, 1e-3)^b. b = 10 (our choice, as seh-frag's); ``--objectives`` picks a subset,
``--transform`` reshapes any of them (``molgfn.moo``). ``raw_score`` / ``reward`` in candidate
lists use the fixed (default equal) weighting; every objective is a column, with a ``pareto_rank``.
"""

from __future__ import annotations

import numpy as np

from molgfn.moo import VectorOracle, make_components, parse_transforms, parse_weights

from .seh_frag import SEHFrag

OBJECTIVES = ("seh", "qed", "sa", "mw")


def sa_scores(mols) -> np.ndarray:
    import os
    import sys

    from rdkit.Chem import RDConfig

    path = os.path.join(RDConfig.RDContribDir, "SA_Score")
    if path not in sys.path:
        sys.path.append(path)
    import sascorer  # RDKit's contributed implementation of Ertl & Schuffenhauer (2009)

    return np.array([sascorer.calculateScore(m) for m in mols], dtype=np.float64)


class SEHFragMOO(SEHFrag):
    name = "seh-frag-moo"
    description = "sEH proxy, QED, SA and molecular weight of fragment molecules, preference-conditioned"
    reward_exponent = 10.0
    r_max = 1.0
    raw_max = 1.0
    raw_floor = 1e-3
    allow_negative = False
    mode_score_threshold = None  # the seh-frag modes are on the proxy scale, not on this one
    multi_objective = True  # --objectives / --weights / --transform apply

    def __init__(self, max_blocks: int = 8, vocab: str | None = None, reward_exponent: float | None = None,
                 device: str = "auto", objectives: list[str] | str | None = None, weights=None,
                 transforms=None) -> None:
        super().__init__(max_blocks, vocab, reward_exponent, device)
        names = objectives.split(",") if isinstance(objectives, str) else list(objectives or OBJECTIVES)
        bad = [n for n in names if n not in OBJECTIVES]
        if bad:
            from molgfn.errors import InputError

            raise InputError(f"seh-frag-moo has the objectives {', '.join(OBJECTIVES)}; not {', '.join(bad)}")
        self.components = make_components(names, parse_weights(weights), parse_transforms(transforms))
        self.vec = VectorOracle(self.name, self.objective_values, self.components)

    def objective_values(self, smiles: list[str]) -> np.ndarray:
        """(n, k) objective values of canonical SMILES, in the order of ``--objectives``."""
        from rdkit import Chem
        from rdkit.Chem import QED, Descriptors

        mols = [Chem.MolFromSmiles(s) for s in smiles]
        cols = {}
        names = [c.name for c in self.components]
        if "seh" in names:
            cols["seh"] = np.clip(np.asarray(self.oracle.raw(smiles), dtype=np.float64) / 8.0, 0.0, 1.0)
        if "qed" in names:
            cols["qed"] = np.array([QED.qed(m) for m in mols])
        if "sa" in names:
            cols["sa"] = (10.0 - sa_scores(mols)) / 9.0
        if "mw" in names:
            mw = np.array([Descriptors.MolWt(m) for m in mols])
            cols["mw"] = np.clip((1000.0 - mw) / 700.0, 0.0, 1.0)
        return np.stack([cols[n] for n in names], axis=1)

    def raw_scores(self, smiles: list[str]) -> np.ndarray:
        return self.vec(smiles)

    def objective_vectors(self, objs: list[str]) -> np.ndarray:
        return self.vec.vectors(objs)

    def extra_columns(self, objs: list[str]) -> dict[str, list]:
        cols = super().extra_columns(objs)
        Y = self.objective_vectors(objs)
        cols.update({c.name: Y[:, i].tolist() for i, c in enumerate(self.components)})
        return cols
