"""vina: AutoDock Vina docking score of fragment molecules against the user's receptor.

``--task-option receptor=FILE.pdbqt center=X,Y,Z size=SX,SY,SZ exhaustiveness=N``, or
``--task-option target=NAME`` for one of the 58 targets dockstring prepared (receptor and box from the
installed ``dockstring`` package's files), or ``target=FOLDER`` for a folder written by ``molgfn receptor
prepare`` (its receptor.pdbqt and box.json); ``center=``/``size=`` may still override a target's box.
Each molecule gets one RDKit ETKDG + MMFF94 conformer (fixed seed), is prepared with meeko
(Gasteiger charges, AutoDock atom types, rotatable bonds) and docked in the box with the
Vina scoring function (Eberhardt et al. 2021; Trott & Olson 2010): ``molgfn.chem.docking``, which
a scoring file's ``kind = "vina"`` component uses as well. Raw score = the best
pose's Vina score in kcal/mol (lower binds better); the best pose itself is kept in the score
store (``extra``: an SD mol block) and becomes the 3-D coordinates of the run's SDF lists;
the reward uses the negated score, R = (max(-r, 1e-3) / 12)^b with b = 3 (about -12 kcal/mol
is a strong binder). Molecules that cannot be prepared or docked are invalid objects.
Needs ``pip install "molgfn[docking]"``.
"""

from __future__ import annotations

import torch

from molgfn.chem.docking import INSTALL, MAX_BOX, USAGE, DockOracle, dock_settings, parse_triple, pose_block
from molgfn.fragtask import FragmentTask
from molgfn.oracle import CachedOracle

__all__ = ["INSTALL", "MAX_BOX", "USAGE", "DockOracle", "VinaDock", "parse_triple", "pose_block"]


class VinaDock(FragmentTask):
    name = "vina"
    description = "AutoDock Vina score (kcal/mol) against your receptor (needs molgfn[docking]; see README)"
    reward_exponent = 3.0
    r_max = 1.0
    raw_max = 12.0  # of the negated score
    allow_negative = True  # Vina scores are negative; the reward negates them
    higher_is_better = False  # the best docking score is the lowest (best_raw, evaluate's top-k)
    path_options = ("receptor", "target")  # recorded as absolute paths (a bare target name stays a name)

    def __init__(self, receptor: str | None = None, center=None, size=None, exhaustiveness: int = 8, seed: int = 0,
                 max_blocks: int = 8, vocab: str | None = None, reward_exponent: float | None = None,
                 workers: int | None = None, target: str | None = None) -> None:
        d = dock_settings(receptor, center, size, exhaustiveness, seed, target)
        super().__init__(max_blocks, vocab, reward_exponent)
        self.oracle = CachedOracle(self.name, d.oracle(), allow_negative=True, workers=workers, version=d.version,
                                   invalid_value=0.0)

    def log_reward(self, raw: torch.Tensor) -> torch.Tensor:
        """log R of the negated Vina score: a more negative score is a better binder."""
        return super().log_reward(-torch.as_tensor(raw, dtype=torch.float64))

    def raw_scores(self, smiles: list[str]) -> list[float]:
        return self.oracle(smiles).tolist()

    def poses(self, smiles) -> dict[str, str]:
        """The best docked pose (an SD mol block, hydrogens included) of each of ``smiles`` that was docked
        and has one: from memory, else from the score store. Used as the 3-D coordinates of SDF lists."""
        return self.oracle.extras_of(list(smiles))

    def close(self) -> None:
        self.oracle.close()
