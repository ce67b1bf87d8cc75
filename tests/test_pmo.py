"""PMO oracles (molgfn.chem.pmo) and their tasks: targets, RDKit QED, guacamol's definitions."""

from __future__ import annotations

import math
import sys
import types

import numpy as np
import pytest
from rdkit import Chem
from rdkit.Chem import QED

from molgfn.chem import pmo

MOLECULES = [pmo.OSIMERTINIB, pmo.FEXOFENADINE, pmo.RANOLAZINE, pmo.SITAGLIPTIN, pmo.ZALEPLON, pmo.AMLODIPINE,
             pmo.PERINDOPRIL, pmo.HOP_PHARMACOPHORE, "CC(C)Cc1ccc(cc1)C(C)C(=O)O", "Nc1ccc(cc1)C(=O)NO",
             "CCOC(=O)c1ccccc1N", "O=C(O)c1ccccc1O", "Cc1ccc(cc1)S(=O)(=O)N1CCN(C)CC1",
             "CN(C)C(=O)Cc1ccc(-c2ccccc2)cc1", "FC(F)P(=O)(Cl)c1ccc(N)cc1C(=O)NC"]


def test_target_molecules_score_one():
    for name, smiles in pmo.TARGETS.items():
        assert pmo.score(name, smiles) == pytest.approx(1.0), name
        other = Chem.MolToSmiles(Chem.MolFromSmiles(smiles))  # any SMILES of the molecule
        assert pmo.score(name, other) == pytest.approx(1.0), name


def test_qed_is_rdkit_qed_and_scores_are_in_unit_interval():
    for s in MOLECULES:
        assert pmo.score("qed", s) == QED.qed(Chem.MolFromSmiles(s))
        for name in pmo.ORACLES:
            assert 0.0 <= pmo.score(name, s) <= 1.0
    assert pmo.score("qed", "not a smiles") == 0.0


def test_pmo_isomer_count_reads_the_smiles_as_a_formula():
    # PyTDC 0.3.6 (PMO) totals the atoms of "Nc1ccc(O)cc1" by its upper-case letters: N, O -> 2,
    # where guacamol counts 15 atoms with hydrogens (C6H7NO)
    s = "Nc1ccc(O)cc1"
    mol = Chem.MolFromSmiles(s)
    g = lambda x, mu, sd: math.exp(-0.5 * ((x - mu) / sd) ** 2)  # noqa: E731
    per_element = [g(6, 7, 1), g(7, 8, 1), g(1, 2, 1), g(1, 2, 1)]  # C7H8N2O2
    expect_pmo = float(np.prod(per_element + [g(2, 19, 2)]) ** (1 / 5))
    expect_atoms = float(np.prod(per_element + [g(15, 19, 2)]) ** (1 / 5))
    assert pmo.isomer_score(mol, s, "C7H8N2O2", "pmo") == pytest.approx(expect_pmo)
    assert pmo.isomer_score(mol, s, "C7H8N2O2", "atoms") == pytest.approx(expect_atoms)
    assert pmo.score("isomers_c7h8n2o2", s) == pytest.approx(expect_pmo)


def test_pmo_tasks_are_registered_fragment_tasks(request):
    from molgfn.tasks import get_task, registry

    from .conftest import frag_vocab_path

    vocab = str(frag_vocab_path(request)[0])

    names = sorted(n for n in registry() if n.startswith("pmo-"))
    assert len(names) == 20 and "pmo-osimertinib-mpo" in names and "pmo-isomers-c9h10n2o2pf2cl" in names
    t = get_task("pmo-celecoxib-rediscovery", vocab=vocab)
    assert t.kind == "fragment"
    assert t.raw_scores([pmo.CELECOXIB, "CCO"])[0] == pytest.approx(1.0)
    from molgfn.errors import TaskError

    with pytest.raises(TaskError, match="isomer_count"):
        get_task("pmo-qed", vocab=vocab, isomer_count="hydrogens")


def _guacamol_objectives(monkeypatch) -> dict:
    """guacamol's own scoring functions (its last release, 0.5.5, imports ``scipy.histogram``, gone
    from SciPy, and FCD, which only its distribution benchmarks use: both stubbed here)."""
    pytest.importorskip("guacamol", reason="guacamol not installed: pip install --no-deps guacamol==0.5.5")
    import scipy

    if not hasattr(scipy, "histogram"):
        monkeypatch.setattr(scipy, "histogram", np.histogram, raising=False)
    if "fcd" not in sys.modules:
        monkeypatch.setitem(sys.modules, "fcd", types.ModuleType("fcd"))
    from guacamol import standard_benchmarks as sb
    from guacamol.benchmark_suites import goal_directed_suite_v2

    by_name = {b.name: b.objective for b in goal_directed_suite_v2()}
    ours = {"celecoxib_rediscovery": "Celecoxib rediscovery", "troglitazone_rediscovery": "Troglitazone rediscovery",
            "thiothixene_rediscovery": "Thiothixene rediscovery", "albuterol_similarity": "Albuterol similarity",
            "mestranol_similarity": "Mestranol similarity", "isomers_c9h10n2o2pf2cl": "C9H10N2O2PF2Cl",
            "median1": "Median molecules 1", "median2": "Median molecules 2", "osimertinib_mpo": "Osimertinib MPO",
            "fexofenadine_mpo": "Fexofenadine MPO", "ranolazine_mpo": "Ranolazine MPO",
            "perindopril_mpo": "Perindopril MPO", "amlodipine_mpo": "Amlodipine MPO",
            "sitagliptin_mpo": "Sitagliptin MPO", "zaleplon_mpo": "Zaleplon MPO",
            "valsartan_smarts": "Valsartan SMARTS", "deco_hop": "Deco Hop", "scaffold_hop": "Scaffold Hop"}
    out = {k: by_name[v] for k, v in ours.items()}
    out["isomers_c7h8n2o2"] = sb.isomers_c7h8n2o2().objective
    out["qed"] = sb.qed_benchmark().objective
    return out


def test_scores_equal_guacamols_own_scoring_functions(monkeypatch):
    objectives = _guacamol_objectives(monkeypatch)
    assert set(objectives) == set(pmo.ORACLES)
    for name, objective in objectives.items():
        for s in MOLECULES[::3] + list(pmo.TARGETS.values()):
            # guacamol counts every atom of an isomer: our "atoms" setting; PMO's own count differs
            assert pmo.score(name, s, "atoms") == pytest.approx(objective.score(s), abs=1e-9), (name, s)


def test_scoring_smiles_with_a_fragment_task_needs_no_block_vocabulary(tmp_path, monkeypatch):
    """`molgfn score` takes molecules as SMILES: the block vocabulary (an asset) is not needed for it, so a
    machine without the seh-frag-blocks asset scores with any fragment task (pmo-*, vina, ...)."""
    from typer.testing import CliRunner

    from molgfn.cli import app

    monkeypatch.delenv("MOLGFN_DATA", raising=False)  # no data folder: the asset is nowhere
    inp = tmp_path / "in.smi"
    inp.write_text("CC(=O)Oc1ccccc1C(=O)O\nc1ccccc1\n")
    res = CliRunner().invoke(app, ["score", "--task", "pmo-qed", "--input", str(inp), "--output", "-"])
    assert res.exit_code == 0, res.output
    rows = [ln.split(",") for ln in res.output.strip().splitlines() if ln.startswith(("CC(=O)", "c1ccccc1"))]
    assert [round(float(r[2]), 6) for r in rows] == [round(QED.qed(Chem.MolFromSmiles(r[0])), 6) for r in rows]
    res = CliRunner().invoke(app, ["design", "--task", "pmo-qed", "--rounds", "1", "--out", str(tmp_path / "run")])
    assert res.exit_code != 0 and "seh-frag-blocks" in res.output  # building molecules does need it
    assert not (tmp_path / "run").exists()  # and says so before writing anything
    res = CliRunner().invoke(app, ["bench", "--tasks", "pmo-qed", "--seeds", "0", "--rounds", "1",
                                   "--out", str(tmp_path / "grid")])
    assert res.exit_code != 0 and "seh-frag-blocks" in res.output and not (tmp_path / "grid").exists()


def test_reward_exponent_is_used_by_fragment_tasks_and_refused_where_fixed(tmp_path, request):
    """--reward-exponent on a built-in task: a fragment task takes it (R = r^b, recorded for --resume);
    a task whose exponent is fixed refuses it in one line instead of ignoring it."""
    import json

    from tests.conftest import real_or_synthetic

    real_or_synthetic(request, "seh-frag-blocks")  # the blocks: the reference ones, or synthetic stand-ins

    import pandas as pd
    from typer.testing import CliRunner

    from molgfn.cli import app

    run = tmp_path / "run"
    res = CliRunner().invoke(app, ["design", "--task", "pmo-qed", "--reward-exponent", "4", "--rounds", "1",
                                   "--batch-size", "8", "--num-samples", "16", "--out", str(run)])
    assert res.exit_code == 0, res.output
    assert json.loads((run / "config.json").read_text())["task_options"]["reward_exponent"] == 4.0
    df = pd.read_csv(run / "candidates.csv")
    assert np.allclose(df["reward"], np.maximum(df["raw_score"], 1e-3) ** 4, rtol=1e-6)
    plain = tmp_path / "plain"  # started with the task's own b = 8: typing 8 again on --resume is no contradiction
    args = ["design", "--task", "pmo-qed", "--batch-size", "8", "--num-samples", "16", "--out", str(plain)]
    assert CliRunner().invoke(app, [*args, "--rounds", "1"]).exit_code == 0
    res = CliRunner().invoke(app, [*args, "--resume", "--rounds", "2", "--reward-exponent", "8"])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(app, [*args, "--resume", "--rounds", "3", "--reward-exponent", "5"])
    assert res.exit_code == 2 and "the run has 8.0" in res.output
    res = CliRunner().invoke(app, ["design", "--task", "tfbind8", "--reward-exponent", "4", "--rounds", "1",
                                   "--out", str(tmp_path / "t8")])
    assert res.exit_code == 2 and "fixed reward exponent" in res.output and not (tmp_path / "t8").exists()
