"""3-D conformers: one ETKDG embedding (Riniker & Landrum 2015) refined with MMFF94 (Halgren 1996)."""

from __future__ import annotations

from rdkit import Chem
from rdkit.Chem import AllChem


def embed_conformer(mol: Chem.Mol, seed: int = 0) -> tuple[Chem.Mol | None, str | None]:
    """The molecule with explicit hydrogens and one MMFF-optimised conformer, or (None, why)."""
    molh = Chem.AddHs(mol)
    params = AllChem.ETKDGv3()
    params.randomSeed = int(seed)
    if AllChem.EmbedMolecule(molh, params) != 0:
        params.useRandomCoords = True  # the documented fallback for molecules ETKDG cannot start
        if AllChem.EmbedMolecule(molh, params) != 0:
            return None, "ETKDG embedding failed"
    if not AllChem.MMFFHasAllMoleculeParams(molh):
        return None, "no MMFF94 parameters for this molecule"
    AllChem.MMFFOptimizeMolecule(molh, maxIters=2000)
    return molh, None
