"""xtb-gap: conformers, GFN2-xTB gaps (physics, determinism, invalid objects) and a design run."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rdkit import Chem

from molgfn.chem.conformers import embed_conformer

ROOT = Path(__file__).resolve().parents[1]


def need_tblite():
    if importlib.util.find_spec("tblite") is None:
        pytest.skip('tblite is not installed: pip install "molgfn[xtb]"')


def test_embed_conformer_is_3d_with_hydrogens_and_reproducible():
    mol = Chem.MolFromSmiles("CC(=O)NC")
    a, err = embed_conformer(mol, seed=7)
    b, _ = embed_conformer(mol, seed=7)
    assert err is None and a.GetNumAtoms() == 12  # C3H7NO: 5 heavy atoms + 7 hydrogens
    pos = a.GetConformer().GetPositions()
    assert a.GetConformer().Is3D() and np.ptp(pos[:, 2]) > 0.1
    np.testing.assert_array_equal(pos, b.GetConformer().GetPositions())
    # MMFF-relaxed C=O bond length: 1.2 to 1.25 Angstrom
    assert 1.19 < np.linalg.norm(pos[1] - pos[2]) < 1.25


def test_embed_conformer_reports_why_not():
    assert embed_conformer(None) == (None, "no molecule")
    mol, err = embed_conformer(Chem.MolFromSmiles("C[Se]C"))
    assert mol is None and "MMFF94" in err


def test_gap_physics_conjugation_narrows_the_gap():
    need_tblite()
    from molgfn.tasks.xtb_gap import GapOracle

    # textbook trend (Hueckel, particle in a box): longer conjugation -> smaller HOMO-LUMO gap,
    # and a saturated molecule has a much larger gap than any conjugated one
    ethane, ethene, butadiene, hexatriene = GapOracle()(["CC", "C=C", "C=CC=C", "C=CC=CC=C"])
    assert ethane > ethene > butadiene > hexatriene > 0
    assert ethane > 2 * ethene
    assert GapOracle(seed=0)(["c1ccncc1"]) == GapOracle(seed=0)(["c1ccncc1"])  # deterministic


def test_gap_invalid_objects_are_named():
    need_tblite()
    from molgfn.tasks.xtb_gap import GapOracle

    from molgfn.oracle import Invalid

    big, ion, cl = GapOracle()(["CCCCCCCCCC", "C[NH3+]", "CCl"])
    assert big == Invalid("10 heavy atoms (QM9 size is at most 9)")
    assert isinstance(ion, Invalid) and "charged" in ion.reason
    assert isinstance(cl, Invalid) and "C, N, O, F" in cl.reason


def test_vocabulary_is_qm9_like():
    need_tblite()
    from molgfn.tasks import get_task

    t = get_task("xtb-gap")
    assert {a.GetSymbol() for s in t.env.vocab.smiles for a in Chem.MolFromSmiles(s).GetAtoms()} <= {"C", "N", "O",
                                                                                                   "F"}
    assert t.reward_exponent == 4.0 and t.object_column == "smiles"


@pytest.mark.slow  # a design run through worker processes or Ray, end to end
@pytest.mark.parametrize("executor", ["process", "ray"])
def test_design_xtb_gap_end_to_end(tmp_path, executor):
    need_tblite()
    if executor == "ray" and importlib.util.find_spec("ray") is None:
        pytest.skip('Ray is not installed: pip install "molgfn[ray]"')
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = ["design", "--task", "xtb-gap", "--executor", executor, "--workers", 2, "--rounds", 3, "--batch-size", 8,
            "--replay-size", 4, "--num-samples", 8, "--num-candidates", 5, "--hidden", 32, "--layers", 1,
            "--out", out, "--quiet", "--device", "cpu", "--on-oracle-error", "invalid"]
    r = subprocess.run([sys.executable, "-c", "from cli import app; app()", *map(str, args)], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    cand = pd.read_csv(out / "candidates.csv")
    # at most 5: a molecule xtb-gap marked invalid is never a candidate, even when the list is short
    assert 1 <= len(cand) <= 5 and cand["raw_score"].iloc[0] > 1.0  # eV
    from molgfn.oracle import read_store

    store = read_store(out / "scores.sqlite")
    ok = store.dropna(subset=["raw_score"])
    assert len(ok) > 0 and (ok["raw_score"] > 0).all() and (ok["raw_score"] < 25).all()
    assert set(store["oracle"]) == {"xtb-gap"}
    assert set(cand["smiles"]) <= set(ok["object"])  # every candidate has a computed gap
    best = dict(zip(ok["object"], ok["raw_score"], strict=True))
    top = cand.iloc[0]
    assert top["raw_score"] == pytest.approx(best[top["smiles"]])  # the table shows the stored gap
    m = pd.read_csv(out / "metrics.csv")
    assert (m["oracle_calls"] + m["store_hits"]).iloc[-1] >= 1
