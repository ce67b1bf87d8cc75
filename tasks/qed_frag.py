"""qed-frag: fragment-based molecules scored by RDKit's QED (cheap; for tests and demos).

Raw score r = QED in (0, 1); reward R = max(r, 1e-3)^b with b = 4 (our choice: it
separates drug-like from non-drug-like molecules by about two orders of magnitude).
"""

from __future__ import annotations

from rdkit import Chem
from rdkit.Chem import QED

from molgfn.fragtask import FragmentTask


def qed_scores(smiles: list[str]) -> list[float]:
    out = []
    for s in smiles:
        mol = Chem.MolFromSmiles(s)
        out.append(QED.qed(mol) if mol is not None else 0.0)
    return out


class QEDFrag(FragmentTask):
    name = "qed-frag"
    description = "RDKit QED of fragment molecules (105 blocks, up to 8)"
    reward_exponent = 4.0
    r_max = 1.0
    raw_max = 1.0
    raw_floor = 1e-3

    def raw_scores(self, smiles: list[str]) -> list[float]:
        return qed_scores(smiles)
