"""The 20 PMO oracles that need no trained model (Gao et al. 2022, "Sample Efficiency Matters").

PMO scores molecules with TDC's oracles (``tdc.Oracle``, PyTDC 0.3.6), which re-implement the
GuacaMol goal-directed benchmarks (Brown et al. 2019). This module states those definitions
with RDKit and NumPy only: each oracle maps a canonical SMILES to a score in [0, 1].

Building blocks, as GuacaMol defines them: count fingerprints (ECFP4/ECFP6: Morgan radius 2/3,
FCFP4: Morgan radius 2 on feature invariants, AP: atom pairs up to distance 10; all unhashed
counts), Gobbi 2-D pharmacophore fingerprints (PHCO), Tanimoto similarity, score modifiers
(Gaussian, half-Gaussians, clipped linear) and geometric means (0 if any term is 0).

Where PMO's definitions differ from the ``guacamol`` package's defaults:

- isomer scores (``isomers_*``, and inside ``zaleplon_mpo`` and ``sitagliptin_mpo``): PyTDC 0.3.6
  counted the *total* number of atoms by reading the SMILES string as a formula (regex
  ``[A-Z][a-z]*\\d*``: aromatic lower-case atoms and hydrogens are missed, ring-closure digits
  read as counts); guacamol counts every atom, hydrogens included. TDC fixed this in Aug 2022
  (0.3.7, after PMO's runs) and kept the old one as ``*_prev``. ``isomer_count="pmo"`` (the
  default) reproduces PMO's; ``"atoms"`` is guacamol's (and TDC >= 0.3.7's).
- GuacaMol's benchmarks score a *set* of molecules (top-1/10/100 means); PMO scores each
  molecule on its own: the scoring function alone is used here.
- the similarity tasks (albuterol, mestranol) and rediscoveries use guacamol's fingerprints and
  thresholds (FCFP4 / AP clipped at 0.75; ECFP4 for the rediscoveries), as TDC does.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from functools import cache

import numpy as np
from rdkit import Chem, DataStructs, RDLogger
from rdkit.Chem import QED, Descriptors, rdMolDescriptors

# -- modifiers --------------------------------------------------------------------------------


def gaussian(x: float, mu: float, sigma: float) -> float:
    return math.exp(-0.5 * ((x - mu) / sigma) ** 2)


def min_gaussian(x: float, mu: float, sigma: float) -> float:
    """1 for x <= mu, a Gaussian tail above (a value to keep low)."""
    return gaussian(max(x, mu), mu, sigma)


def max_gaussian(x: float, mu: float, sigma: float) -> float:
    """1 for x >= mu, a Gaussian tail below (a value to keep high)."""
    return gaussian(min(x, mu), mu, sigma)


def clipped(x: float, upper_x: float, lower_x: float = 0.0) -> float:
    """0 at lower_x, rising linearly to 1 at upper_x, clipped to [0, 1]."""
    return float(np.clip((x - lower_x) / (upper_x - lower_x), 0.0, 1.0))


def geometric_mean(values: list[float]) -> float:
    if min(values) <= 0:
        return 0.0
    return math.exp(sum(math.log(v) for v in values) / len(values))


# -- fingerprints -----------------------------------------------------------------------------


def _quiet(fn):
    """RDKit's legacy fingerprint functions log a deprecation line per call; PMO uses them, so do we."""
    def wrapped(mol):
        RDLogger.DisableLog("rdApp.*")
        try:
            return fn(mol)
        finally:
            RDLogger.EnableLog("rdApp.*")
    return wrapped


FINGERPRINTS: dict[str, Callable] = {
    "ECFP4": _quiet(lambda m: rdMolDescriptors.GetMorganFingerprint(m, 2)),
    "ECFP6": _quiet(lambda m: rdMolDescriptors.GetMorganFingerprint(m, 3)),
    "FCFP4": _quiet(lambda m: rdMolDescriptors.GetMorganFingerprint(m, 2, useFeatures=True)),
    "AP": _quiet(lambda m: rdMolDescriptors.GetAtomPairFingerprint(m, maxLength=10)),
}


def _phco(mol):
    from rdkit.Chem.Pharm2D import Generate, Gobbi_Pharm2D

    return Generate.Gen2DFingerprint(mol, Gobbi_Pharm2D.factory)


FINGERPRINTS["PHCO"] = _phco


@cache
def _target_fp(smiles: str, fp: str):
    return FINGERPRINTS[fp](Chem.MolFromSmiles(smiles))


def similarity(mol, target: str, fp: str) -> float:
    return DataStructs.TanimotoSimilarity(FINGERPRINTS[fp](mol), _target_fp(target, fp))


# -- isomers ----------------------------------------------------------------------------------

_FORMULA = re.compile(r"([A-Z][a-z]*)(\d*)")


def parse_formula(formula: str) -> list[tuple[str, int]]:
    return [(el, int(n) if n else 1) for el, n in _FORMULA.findall(formula)]


def count_element(mol, element: str) -> int:
    if element == "H":
        mol = Chem.AddHs(mol)
    return sum(1 for a in mol.GetAtoms() if a.GetSymbol() == element)


def isomer_score(mol, smiles: str, formula: str, isomer_count: str = "pmo") -> float:
    """Closeness to a molecular formula: Gaussian(count, n, 1) per element of the formula and
    Gaussian(total, N, 2) for the total number of atoms, combined by the geometric mean. The total
    is counted as PMO's oracle did (``"pmo"``: the SMILES string read as a formula) or over every
    atom with hydrogens (``"atoms"``, guacamol's)."""
    target = parse_formula(formula)
    scores = [gaussian(count_element(mol, el), n, 1.0) for el, n in target]
    if isomer_count == "pmo":
        total = sum(n for _, n in parse_formula(smiles))
    else:
        total = Chem.AddHs(mol).GetNumAtoms()
    scores.append(gaussian(total, sum(n for _, n in target), 2.0))
    return geometric_mean(scores)


def _has(mol, smarts: str) -> bool:
    return mol.HasSubstructMatch(_smarts(smarts))


@cache
def _smarts(smarts: str):
    return Chem.MolFromSmarts(smarts)


@cache
def _descriptors_of(smiles: str) -> tuple[float, float, float]:
    m = Chem.MolFromSmiles(smiles)
    return Descriptors.MolLogP(m), Descriptors.TPSA(m), Descriptors.BertzCT(m)


# -- the oracles ------------------------------------------------------------------------------

CELECOXIB = "CC1=CC=C(C=C1)C1=CC(=NN1C1=CC=C(C=C1)S(N)(=O)=O)C(F)(F)F"
TROGLITAZONE = "Cc1c(C)c2OC(C)(COc3ccc(CC4SC(=O)NC4=O)cc3)CCc2c(C)c1O"
THIOTHIXENE = "CN(C)S(=O)(=O)c1ccc2Sc3ccccc3C(=CCCN4CCN(C)CC4)c2c1"
ALBUTEROL = "CC(C)(C)NCC(O)c1ccc(O)c(CO)c1"
MESTRANOL = "COc1ccc2[C@H]3CC[C@@]4(C)[C@@H](CC[C@@]4(O)C#C)[C@@H]3CCc2c1"
CAMPHOR, MENTHOL = "CC1(C)C2CCC1(C)C(=O)C2", "CC(C)C1CCC(C)CC1O"
TADALAFIL = "O=C1N(CC(N2C1CC3=C(C2C4=CC5=C(OCO5)C=C4)NC6=C3C=CC=C6)=O)C"
SILDENAFIL = "CCCC1=NN(C2=C1N=C(NC2=O)C3=C(C=CC(=C3)S(=O)(=O)N4CCN(CC4)C)OCC)C"
OSIMERTINIB = "COc1cc(N(C)CCN(C)C)c(NC(=O)C=C)cc1Nc2nccc(n2)c3cn(C)c4ccccc34"
FEXOFENADINE = "CC(C)(C(=O)O)c1ccc(cc1)C(O)CCCN2CCC(CC2)C(O)(c3ccccc3)c4ccccc4"
RANOLAZINE = "COc1ccccc1OCC(O)CN2CCN(CC(=O)Nc3c(C)cccc3C)CC2"
PERINDOPRIL = "O=C(OCC)C(NC(C(=O)N1C(C(=O)O)CC2CCCCC12)C)CCC"
AMLODIPINE = "Clc1ccccc1C2C(=C(/N/C(=C2/C(=O)OCC)COCCN)C)\\C(=O)OC"
ZALEPLON = "O=C(C)N(CC)C1=CC=CC(C2=CC=NC3=C(C=NN23)C#N)=C1"
SITAGLIPTIN = "Fc1cc(c(F)cc1F)CC(N)CC(=O)N3Cc2nnc(n2CC3)C(F)(F)F"
SITAGLIPTIN_VALSARTAN = "NC(CC(=O)N1CCn2c(nnc2C(F)(F)F)C1)Cc1cc(F)c(F)cc1F"  # valsartan_smarts' property target
HOP_PHARMACOPHORE = "CCCOc1cc2ncnc(Nc3ccc4ncsc4c3)c2cc1S(=O)(=O)C(C)(C)C"
HOP_SCAFFOLD = "[#7]-c1n[c;h1]nc2[c;h1]c(-[#8])[c;h0][c;h1]c12"

# the target molecule of each rediscovery / similarity task (a test checks each scores 1)
TARGETS = {"celecoxib_rediscovery": CELECOXIB, "troglitazone_rediscovery": TROGLITAZONE,
           "thiothixene_rediscovery": THIOTHIXENE, "albuterol_similarity": ALBUTEROL,
           "mestranol_similarity": MESTRANOL}


def _osimertinib(m, s, opt):
    return geometric_mean([max_gaussian(Descriptors.TPSA(m), 100, 10), min_gaussian(Descriptors.MolLogP(m), 1, 1),
                           clipped(similarity(m, OSIMERTINIB, "FCFP4"), 0.8),
                           min_gaussian(similarity(m, OSIMERTINIB, "ECFP6"), 0.85, 0.1)])


def _fexofenadine(m, s, opt):
    return geometric_mean([max_gaussian(Descriptors.TPSA(m), 90, 10), min_gaussian(Descriptors.MolLogP(m), 4, 1),
                           clipped(similarity(m, FEXOFENADINE, "AP"), 0.8)])


def _ranolazine(m, s, opt):
    return geometric_mean([max_gaussian(Descriptors.TPSA(m), 95, 20), max_gaussian(Descriptors.MolLogP(m), 7, 1),
                           clipped(similarity(m, RANOLAZINE, "AP"), 0.7), gaussian(count_element(m, "F"), 1, 1.0)])


def _sitagliptin(m, s, opt):
    logp, tpsa, _ = _descriptors_of(SITAGLIPTIN)
    return geometric_mean([gaussian(similarity(m, SITAGLIPTIN, "ECFP4"), 0, 0.1),
                           gaussian(Descriptors.MolLogP(m), logp, 0.2), gaussian(Descriptors.TPSA(m), tpsa, 5),
                           isomer_score(m, s, "C16H15F6N5O", opt)])


def _valsartan(m, s, opt):
    logp, tpsa, bertz = _descriptors_of(SITAGLIPTIN_VALSARTAN)
    return geometric_mean([float(_has(m, "CN(C=O)Cc1ccc(c2ccccc2)cc1")), gaussian(Descriptors.TPSA(m), tpsa, 5),
                           gaussian(Descriptors.MolLogP(m), logp, 0.2), gaussian(Descriptors.BertzCT(m), bertz, 30)])


def _deco_hop(m, s, opt):
    return float(np.mean([clipped(similarity(m, HOP_PHARMACOPHORE, "PHCO"), 0.85),
                          float(not _has(m, "CS([#6])(=O)=O")), float(not _has(m, "[#7]-c1ccc2ncsc2c1")),
                          float(_has(m, HOP_SCAFFOLD))]))


def _scaffold_hop(m, s, opt):
    return float(np.mean([clipped(similarity(m, HOP_PHARMACOPHORE, "PHCO"), 0.75),
                          float(_has(m, "[#6]-[#6]-[#6]-[#8]-[#6]~[#6]~[#6]~[#6]~[#6]-[#7]-c1ccc2ncsc2c1")),
                          float(not _has(m, HOP_SCAFFOLD))]))


ORACLES: dict[str, Callable] = {
    "albuterol_similarity": lambda m, s, o: clipped(similarity(m, ALBUTEROL, "FCFP4"), 0.75),
    "amlodipine_mpo": lambda m, s, o: geometric_mean([similarity(m, AMLODIPINE, "ECFP4"),
                                                      gaussian(rdMolDescriptors.CalcNumRings(m), 3, 0.5)]),
    "celecoxib_rediscovery": lambda m, s, o: similarity(m, CELECOXIB, "ECFP4"),
    "deco_hop": _deco_hop,
    "fexofenadine_mpo": _fexofenadine,
    "isomers_c7h8n2o2": lambda m, s, o: isomer_score(m, s, "C7H8N2O2", o),
    "isomers_c9h10n2o2pf2cl": lambda m, s, o: isomer_score(m, s, "C9H10N2O2PF2Cl", o),
    "median1": lambda m, s, o: geometric_mean([similarity(m, CAMPHOR, "ECFP4"), similarity(m, MENTHOL, "ECFP4")]),
    "median2": lambda m, s, o: geometric_mean([similarity(m, TADALAFIL, "ECFP6"),
                                               similarity(m, SILDENAFIL, "ECFP6")]),
    "mestranol_similarity": lambda m, s, o: clipped(similarity(m, MESTRANOL, "AP"), 0.75),
    "osimertinib_mpo": _osimertinib,
    "perindopril_mpo": lambda m, s, o: geometric_mean([similarity(m, PERINDOPRIL, "ECFP4"),
                                                       gaussian(rdMolDescriptors.CalcNumAromaticRings(m), 2, 0.5)]),
    "qed": lambda m, s, o: QED.qed(m),
    "ranolazine_mpo": _ranolazine,
    "scaffold_hop": _scaffold_hop,
    "sitagliptin_mpo": _sitagliptin,
    "thiothixene_rediscovery": lambda m, s, o: similarity(m, THIOTHIXENE, "ECFP4"),
    "troglitazone_rediscovery": lambda m, s, o: similarity(m, TROGLITAZONE, "ECFP4"),
    "valsartan_smarts": _valsartan,
    "zaleplon_mpo": lambda m, s, o: geometric_mean([similarity(m, ZALEPLON, "ECFP4"),
                                                    isomer_score(m, s, "C19H17N3O2", o)]),
}

ISOMER_COUNTS = ("pmo", "atoms")


def score(name: str, smiles: str, isomer_count: str = "pmo") -> float:
    """PMO's score of one SMILES (0 for one RDKit cannot read, as PMO's oracle wrapper)."""
    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        return 0.0
    return float(ORACLES[name](mol, smiles, isomer_count))
