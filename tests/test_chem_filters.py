"""The "reactive or unstable" alert set (ChEMBL BMS + Glaxo, via RDKit's FilterCatalog) and
``ro5-strict``: the issue's examples are flagged, marketed drugs pass."""

from __future__ import annotations

import pytest
from rdkit import Chem

from molgfn.chem import descriptors as D

# the kinds of groups seen in top seh-frag molecules (issue 20): each must fail --filter reactive
REACTIVE = {
    "aminal": "CN(C)CN(C)C",
    "aminal between ring nitrogens": "C1CCN(C1)CN1CCCC1",
    "aminal on a CH": "CC(N1CCOCC1)N1CCOCC1",
    "N-N hydrazine": "CNNC",
    "aryl hydrazine": "NNc1ccccc1",
    "hydrazine between ring nitrogens": "C1CCN(C1)N1CCCC1",
    "acyl hydrazide": "CC(=O)NNC",
    "acyl chloride": "CC(=O)Cl",
    "carbamoyl bromide": "CN(C)C(=O)Br",
    "N-S": "CNSC",
    "N-S from a ring nitrogen": "C1CCN(C1)Sc1ccccc1",
    "N-SH": "CNS",
    "aryl N-SH": "SNc1ccccc1",
}
DRUGS = {
    "aspirin": "CC(=O)Oc1ccccc1C(=O)O",
    "paracetamol": "CC(=O)Nc1ccc(O)cc1",
    "ibuprofen": "CC(C)Cc1ccc(cc1)C(C)C(=O)O",
    "caffeine": "Cn1cnc2c1c(=O)n(C)c(=O)n2C",
    "imatinib": "Cc1ccc(NC(=O)c2ccc(CN3CCN(C)CC3)cc2)cc1Nc1nccc(-c2cccnc2)n1",
    "celecoxib": "Cc1ccc(-c2cc(C(F)(F)F)nn2-c2ccc(S(N)(=O)=O)cc2)cc1",
    "metformin": "CN(C)C(=N)NC(N)=N",
    "sildenafil": "CCCc1nn(C)c2c1nc([nH]c2=O)-c1cc(ccc1OCC)S(=O)(=O)N1CCN(C)CC1",
    "atorvastatin": "CC(C)c1c(C(=O)Nc2ccccc2)c(-c2ccccc2)c(-c2ccc(F)cc2)n1CCC(O)CC(O)CC(=O)O",
    "omeprazole": "COc1ccc2[nH]c(S(=O)Cc3ncc(C)c(OC)c3C)nc2c1",
    "diazepam": "CN1C(=O)CN=C(c2ccccc2)c2cc(Cl)ccc21",
    "loratadine": "CCOC(=O)N1CCC(=C2c3ccc(Cl)cc3CCc3cccnc32)CC1",
}


@pytest.mark.parametrize("name", list(REACTIVE))
def test_reactive_filter_flags_the_issues_groups(name):
    mol = Chem.MolFromSmiles(REACTIVE[name])
    assert D.failed_filters(mol, ("reactive",)) == ("reactive",), name
    assert D.descriptor_table([REACTIVE[name]]).reactive_alerts[0] != ""  # named in candidates.csv


def test_reactive_filter_passes_marketed_drugs_and_names_its_alerts():
    for name, smi in DRUGS.items():
        assert D.failed_filters(Chem.MolFromSmiles(smi), ("reactive",)) == (), name
    df = D.descriptor_table(list(DRUGS.values()))
    assert (df.reactive_alerts == "").all()
    assert (df.brenk_alerts != "").sum() >= 2  # Brenk flags aspirin (phenol ester) and paracetamol: not "reactive"
    assert set(D.descriptor_table([REACTIVE["carbamoyl bromide"]]).reactive_alerts[0].split(D.ALERT_SEP)) == {
        "carbonyl_halide", "R2 Acid halides"}  # BMS's and Glaxo's names
    assert set(D.descriptor_table([REACTIVE["aminal"]]).reactive_alerts[0].split(D.ALERT_SEP)) == {
        "non_ring_CH2O_acetal"}


def test_ro5_strict_allows_no_violation():
    one = Chem.MolFromSmiles("CCCCCCCCCCCCCCCCCC")  # octadecane: cLogP > 5, nothing else
    assert D.describe(one)["lipinski_violations"] == 1
    assert D.failed_filters(one, ("lipinski",)) == ()
    assert D.failed_filters(one, ("ro5-strict",)) == ("ro5-strict",)
    assert D.failed_filters(Chem.MolFromSmiles(DRUGS["aspirin"]), ("ro5-strict", "lipinski")) == ()
    assert D.parse_filters("RO5-strict,reactive") == ("ro5-strict", "reactive")
    # checked cheapest first: the rules before the alert sets, PAINS last
    assert D.failed_filters(Chem.MolFromSmiles("CCCCCCCCCCCCCCCCCCNNC"), ("pains", "reactive", "ro5-strict")) == (
        "ro5-strict", "reactive")
