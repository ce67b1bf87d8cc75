"""xtb-gap: the GFN2-xTB HOMO-LUMO gap (eV) of QM9-sized molecules built from fragments.

A physics version of the QM9 gap task that GFlowNet papers score with a learned proxy.
Molecules are trees of 16 small blocks (``data/qm9_blocks.json``: C, N, O, F, carbonyl,
nitrile, small rings, furan, pyrrole, benzene, pyridine), at most 9 heavy atoms of C, N, O,
F as in QM9 (Ramakrishnan et al. 2014). Geometry: RDKit ETKDG + MMFF94 with a fixed seed
(``molgfn.chem.conformers``); energy levels: a GFN2-xTB single point (Bannwarth et al.
2019, the ``tblite`` library). Raw score r = eps_LUMO - eps_HOMO in eV; reward
R = (max(r, 1e-3) / 17)^b, b = 4 (17 eV is about methane's gap, the largest here). A
molecule that cannot be embedded, or whose SCF fails is an invalid object (floor reward,
reason in the score store). The size limit is part of the environment
(``max_heavy_atoms``): actions that would pass 9 heavy atoms are masked, so no reward call
is spent on a molecule the oracle would refuse for its size (the oracle still checks it).
Needs ``pip install "molgfn[xtb]"``.
"""

from __future__ import annotations

import importlib.util
import os

from molgfn.assets import SHIPPED_DATA
from molgfn.errors import TaskError
from molgfn.fragtask import FragmentTask
from molgfn.oracle import CachedOracle, Invalid

HARTREE_EV = 27.211386245988  # CODATA 2018
BOHR_ANGSTROM = 0.529177210903
MAX_HEAVY = 9
ELEMENTS = {6, 7, 8, 9}
INSTALL = 'pip install "molgfn[xtb]"'


class GapOracle:
    """Picklable oracle: SMILES -> GFN2-xTB gap in eV (or ``Invalid``), one molecule at a time."""

    fork_safe = False  # tblite runs OpenMP: process workers are spawned, not forked

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def gap(self, smiles: str) -> float | Invalid:
        import numpy as np
        from rdkit import Chem

        from molgfn.chem.conformers import embed_conformer

        mol = Chem.MolFromSmiles(smiles)
        if mol is None:
            return Invalid("not a valid SMILES")
        heavy = mol.GetNumHeavyAtoms()
        if heavy > MAX_HEAVY:
            return Invalid(f"{heavy} heavy atoms (QM9 size is at most {MAX_HEAVY})")
        if any(a.GetAtomicNum() not in ELEMENTS for a in mol.GetAtoms()):
            return Invalid("elements other than C, N, O, F")
        if any(a.GetNumRadicalElectrons() or a.GetFormalCharge() for a in mol.GetAtoms()):
            return Invalid("charged or radical molecule")
        mh, err = embed_conformer(mol, self.seed)
        if mh is None:
            return Invalid(err)
        os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core per worker: the executor spreads molecules
        from tblite.interface import Calculator

        numbers = np.array([a.GetAtomicNum() for a in mh.GetAtoms()])
        try:
            calc = Calculator("GFN2-xTB", numbers, mh.GetConformer().GetPositions() / BOHR_ANGSTROM)
            calc.set("verbosity", 0)
            res = calc.singlepoint()
        except Exception as e:  # tblite raises on SCF non-convergence
            return Invalid(f"GFN2-xTB failed: {e}")
        eps, occ = res.get("orbital-energies"), res.get("orbital-occupations")
        homo = int(np.flatnonzero(occ > 1.0).max())  # closed shell: doubly occupied up to the HOMO
        return float(eps[homo + 1] - eps[homo]) * HARTREE_EV

    def __call__(self, smiles: list[str]) -> list[float | Invalid]:
        return [self.gap(s) for s in smiles]


class XTBGap(FragmentTask):
    name = "xtb-gap"
    description = "GFN2-xTB HOMO-LUMO gap (eV) of QM9-sized fragment molecules (needs molgfn[xtb])"
    reward_exponent = 4.0
    r_max = 1.0
    raw_max = 17.0
    assets: tuple[str, ...] = ()
    space = "QM9-like block trees (16 blocks, <= 9 heavy atoms)"
    max_heavy_atoms = MAX_HEAVY

    def __init__(self, max_blocks: int = 6, vocab: str | None = None, reward_exponent: float | None = None,
                 seed: int = 0, workers: int | None = None) -> None:
        if importlib.util.find_spec("tblite") is None:
            raise TaskError(f"task xtb-gap needs tblite (GFN2-xTB), which is not installed: {INSTALL}")
        super().__init__(max_blocks, vocab or str(SHIPPED_DATA / "qm9_blocks.json"), reward_exponent)
        import tblite

        version = f"GFN2-xTB tblite {getattr(tblite, '__version__', '?')} ETKDGv3+MMFF94 seed {int(seed)}"
        self.oracle = CachedOracle(self.name, GapOracle(int(seed)), allow_negative=False, workers=workers,
                                   version=version, invalid_value=self.raw_floor)

    def raw_scores(self, smiles: list[str]) -> list[float]:
        return self.oracle(smiles).tolist()

    def close(self) -> None:
        self.oracle.close()
