"""Descriptors, rules, alerts, fingerprints and files of molgfn.chem.descriptors, checked
against published values (PubChem records, the rule definitions, the alert catalogs' names)."""

from __future__ import annotations

import sys

import pandas as pd
import pytest
from rdkit import Chem, DataStructs

from molgfn.chem import descriptors as D
from molgfn.errors import InputError

ASPIRIN = "CC(=O)Oc1ccccc1C(=O)O"
ERYTHROMYCIN = ("CC[C@@H]1[C@@]([C@@H]([C@H](C(=O)[C@@H](C[C@@]([C@@H]([C@H]([C@@H]([C@H](C(=O)O1)C)"
                "O[C@H]2C[C@@]([C@H]([C@@H](O2)C)O)(C)OC)C)O[C@H]3[C@@H]([C@H](C[C@H](O3)C)N(C)C)O)(C)O)C)C)O)(C)O")
BENZYLIDENE_RHODANINE = "O=C1NC(=S)SC1=Cc1ccccc1"  # the ene-rhodanine PAINS family (Baell & Holloway 2010)


def row(smiles: str) -> dict:
    return D.descriptor_table([smiles]).iloc[0].to_dict()


def test_aspirin_matches_pubchem():
    # PubChem CID 2244: MW 180.16 g/mol, HBD 1, HBA 4, TPSA 63.6 A^2, InChIKey BSYNRYMUTXBXSQ-UHFFFAOYSA-N
    r = row(ASPIRIN)
    assert r["mol_weight"] == pytest.approx(180.16, abs=0.01)
    assert (r["hbd"], r["hba"]) == (1, 4)
    assert r["tpsa"] == pytest.approx(63.6, abs=0.05)
    assert r["inchikey"] == "BSYNRYMUTXBXSQ-UHFFFAOYSA-N"
    assert r["scaffold"] == "c1ccccc1"  # Bemis-Murcko: the ring system with its linkers, side chains cut
    assert r["lipinski_violations"] == 0 and r["lipinski_pass"] and r["veber_pass"]
    assert r["pains_alerts"] == ""
    assert 0 < r["qed"] < 1


def test_erythromycin_breaks_the_rule_of_five():
    # PubChem CID 12560: MW 733.9, HBD 5, HBA 14 -> two violations (MW > 500, HBA > 10): fails Ro5
    r = row(ERYTHROMYCIN)
    assert r["mol_weight"] == pytest.approx(733.9, abs=0.1)
    assert (r["hbd"], r["hba"]) == (5, 14)
    assert r["lipinski_violations"] == 2 and not r["lipinski_pass"]


def test_rule_arithmetic_and_boundaries():
    assert D.lipinski_violations(500, 5.0, 5, 10) == 0  # the limits themselves are allowed
    assert D.lipinski_violations(500.01, 5.01, 6, 11) == 4
    assert D.lipinski_violations(600, 1.0, 0, 0) == 1
    assert D.veber_pass(10, 140.0) and not D.veber_pass(11, 20.0) and not D.veber_pass(3, 140.1)
    df = D.descriptor_table([ASPIRIN, ERYTHROMYCIN, "C" * 36, "C" * 20, "OCC(O)CO"])
    # the flags follow from the columns by the rules' arithmetic
    viol = ((df.mol_weight > 500).astype(int) + (df.clogp > 5).astype(int) + (df.hbd > 5).astype(int)
            + (df.hba > 10).astype(int))
    assert viol.tolist() == df.lipinski_violations.tolist()
    assert df.lipinski_pass.tolist() == (viol <= 1).tolist()
    assert df.veber_pass.tolist() == ((df.rotatable_bonds <= 10) & (df.tpsa <= 140)).tolist()
    # hexatriacontane: MW 507 and a very high logP -> 2 violations; icosane: 17 rotatable bonds -> fails Veber
    assert not df.lipinski_pass[2] and df.lipinski_violations[3] == 1 and not df.veber_pass[3]


def test_rotatable_bonds_and_clogp_order():
    # rotatable: single non-ring bonds between two non-terminal heavy atoms
    assert [row(s)["rotatable_bonds"] for s in ("CCCC", "CCCCCC", "c1ccccc1")] == [1, 3, 0]
    # octanol/water logP (measured): hexane 3.9 > benzene 2.1 > ethanol -0.31 > glycerol -1.76
    logp = [row(s)["clogp"] for s in ("CCCCCC", "c1ccccc1", "CCO", "OCC(O)CO")]
    assert logp == sorted(logp, reverse=True) and logp[0] > 2 and logp[-1] < -1


def test_sa_score_ranks_a_macrolide_above_simple_drugs():
    # SA score: 1 (easy) .. 10 (hard); complex natural products score high (Ertl & Schuffenhauer 2009)
    benzene, aspirin, ery = (row(s)["sa_score"] for s in ("c1ccccc1", ASPIRIN, ERYTHROMYCIN))
    assert 1.0 <= benzene < aspirin < 2.5 < 5.0 < ery <= 10.0


def test_sascorer_is_loaded_by_path_only():
    D.sa_score(Chem.MolFromSmiles(ASPIRIN))
    assert "sascorer" not in sys.modules  # not imported by name, so nothing else from Contrib ran
    assert not any(p.rstrip("/").endswith("SA_Score") for p in sys.path)
    assert len(D._sascorer()._fscores) > 100_000  # the fragment table, read by the restricted unpickler


def test_pains_and_brenk_alerts_by_name():
    r = row(BENZYLIDENE_RHODANINE)
    assert r["pains_alerts"] == "ene_rhod_A(235)"
    assert "Michael_acceptor_1" in r["brenk_alerts"].split(D.ALERT_SEP)
    assert row("Oc1ccccc1O")["pains_alerts"] == "catechol_A(92)"
    assert row("O=Cc1ccccc1")["brenk_alerts"] == "aldehyde"
    assert row("CCO")["brenk_alerts"] == ""
    mol = Chem.MolFromSmiles(BENZYLIDENE_RHODANINE)
    assert D.failed_filters(mol, ("pains", "brenk", "lipinski", "veber")) == ("brenk", "pains")  # CHECK_ORDER
    assert D.failed_filters(mol, ("pains", "brenk"), first_only=True) == ("brenk",)
    assert D.failed_filters(mol, ("pains", "lipinski"), first_only=True) == ("pains",)


def test_unparsable_smiles_gets_empty_row_and_types_stay():
    df = D.descriptor_table([ASPIRIN, "C1CC", ASPIRIN])
    assert df.inchikey.tolist() == ["BSYNRYMUTXBXSQ-UHFFFAOYSA-N", "", "BSYNRYMUTXBXSQ-UHFFFAOYSA-N"]
    assert pd.isna(df.mol_weight[1]) and str(df.hbd.dtype) == "Int64" and str(df.lipinski_pass.dtype) == "boolean"


def test_parse_filters():
    assert D.parse_filters("PAINS, brenk,lipinski,pains") == ("pains", "brenk", "lipinski")
    assert D.parse_filters(None) == () and D.parse_filters(["veber"]) == ("veber",)
    with pytest.raises(InputError, match="unknown filter.*toxic.*choose from"):
        D.parse_filters("pains,toxic")


def test_one_fingerprint_everywhere():
    from molgfn.metrics import morgan_fingerprints

    a, b = D.fingerprints([ASPIRIN, "CC(=O)Oc1ccccc1C(=O)OC"])
    assert a.GetNumBits() == D.FP_BITS == 1024 and D.FP_RADIUS == 2
    assert morgan_fingerprints([ASPIRIN])[0] == a
    assert DataStructs.TanimotoSimilarity(a, a) == 1.0 and 0 < DataStructs.TanimotoSimilarity(a, b) < 1
    with pytest.raises(ValueError, match="cannot parse"):
        D.fingerprints(["C1CC"])


def test_sdf_has_3d_conformers_and_every_column(tmp_path):
    df = D.add_descriptors(pd.DataFrame({"rank": [1, 2, 3], "smiles": [ASPIRIN, "OB(O)c1ccccc1", "CCO"],
                                         "raw_score": [0.5, 0.25, 0.125]}))
    path = tmp_path / "c.sdf"
    failures = D.write_table(df, path)
    # phenylboronic acid: MMFF94 has no boron parameters -> reported, written with 2-D coordinates
    assert len(failures) == 1 and "row 2" in failures[0] and "MMFF" in failures[0]
    mols = list(Chem.SDMolSupplier(str(path), removeHs=False))
    assert len(mols) == 3 and all(m is not None for m in mols)
    for m, rec in zip(mols, df.to_dict("records"), strict=True):
        assert set(df.columns) <= set(m.GetPropNames())
        assert m.GetProp("smiles") == rec["smiles"] and float(m.GetProp("raw_score")) == rec["raw_score"]
        assert Chem.MolToInchiKey(m) == m.GetProp("inchikey") == rec["inchikey"]
    assert mols[0].GetConformer().Is3D() and mols[0].GetNumAtoms() == 21  # aspirin C9H8O4 with hydrogens
    assert {a.GetSymbol() for a in mols[0].GetAtoms()} == {"C", "O", "H"}
    z = [mols[0].GetConformer().GetAtomPosition(i).z for i in range(21)]
    assert max(z) - min(z) > 0.5  # really 3-D
    assert not mols[1].GetConformer().Is3D() and mols[1].GetProp("conformer_error")


def test_parquet_round_trip_or_clear_error(tmp_path, monkeypatch):
    df = D.add_descriptors(pd.DataFrame({"rank": [1], "smiles": [ASPIRIN]}))
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        pytest.skip("pyarrow not installed: pip install 'molgfn[parquet]'")
    D.write_table(df, tmp_path / "c.parquet")
    back = pd.read_parquet(tmp_path / "c.parquet")
    assert back.inchikey[0] == "BSYNRYMUTXBXSQ-UHFFFAOYSA-N" and back.hbd[0] == 1
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # as if it were not installed
    with pytest.raises(InputError, match=r"pyarrow.*molgfn\[parquet\]"):
        D.write_table(df, tmp_path / "d.parquet")
    assert not (tmp_path / "d.parquet").exists()


def test_sdf_needs_molecules(tmp_path):
    with pytest.raises(InputError, match="no smiles column"):
        D.write_table(pd.DataFrame({"sequence": ["ACGT"]}), tmp_path / "x.sdf")
    with pytest.raises(InputError, match="unknown format"):
        D.write_table(pd.DataFrame({"sequence": ["ACGT"]}), tmp_path / "x.xlsx")
