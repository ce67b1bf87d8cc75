"""One 3-D conformer per molecule: RDKit ETKDG embedding, then MMFF94 optimisation, with a fixed seed.

ETKDG (Riniker & Landrum 2015) samples a geometry from distance bounds and torsion
preferences; MMFF94 (Halgren 1996) then relaxes it. The seed makes the geometry, and so any
score computed from it (xtb-gap, SDF export), reproducible.
"""

from __future__ import annotations

from rdkit import Chem
from rdkit.Chem import AllChem


def embed_conformer(mol: Chem.Mol, seed: int = 0) -> tuple[Chem.Mol | None, str | None]:
    """The molecule with explicit hydrogens and one optimised conformer, or (None, why not)."""
    if mol is None:
        return None, "no molecule"
    try:
        mh = Chem.AddHs(Chem.Mol(mol))
        params = AllChem.ETKDGv3()
        params.randomSeed = int(seed)
        if AllChem.EmbedMolecule(mh, params) != 0:
            params.useRandomCoords = True  # the fallback RDKit recommends for hard cases
            if AllChem.EmbedMolecule(mh, params) != 0:
                return None, "ETKDG embedding failed"
        if not AllChem.MMFFHasAllMoleculeParams(mh):
            return None, "MMFF94 has no parameters for this molecule"
        if AllChem.MMFFOptimizeMolecule(mh, maxIters=2000) == -1:
            return None, "MMFF94 setup failed"
    except (ValueError, RuntimeError) as e:
        return None, f"embedding failed: {e}"
    return mh, None
