"""The chemistry options on the command line: --filter, --max-per-scaffold, --format, score columns."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from rdkit import Chem
from typer.testing import CliRunner

from cli import app
from molgfn.chem.descriptors import DESCRIPTOR_COLUMNS
from tests.conftest import SHARED, need_assets, real_or_synthetic, use_synthetic

SMALL = ["--rounds", "3", "--batch-size", "16", "--replay-size", "4", "--grad-steps", "1", "--hidden", "16",
         "--layers", "1", "--device", "cpu", "--quiet", "--epsilon", "0.3"]


@pytest.fixture(scope="module")
def filtered_run(tmp_path_factory, request):
    """One small design run shared by the tests below (the per-test asset set-up of conftest, once),
    on the synthetic three-block vocabulary when the reference one is absent."""
    import os

    from molgfn import assets

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
        if SHARED.is_dir():
            mp.setenv("MOLGFN_DATA", str(SHARED))
        assets.set_data_dir(None)
        if assets.status("seh-frag-blocks")[0] != "ok" and not os.environ.get("MOLGFN_REQUIRE_ASSETS"):
            use_synthetic(mp, request.getfixturevalue("_synthetic_root"))
        need_assets("seh-frag-blocks")
        out = tmp_path_factory.mktemp("chem") / "run"
        args = ["design", "--task", "qed-frag", *SMALL, "--num-samples", "64", "--num-candidates", "15",
                "--filter", "pains,brenk,lipinski", "--max-per-scaffold", "1", "--max-similarity", "0.8",
                "--format", "sdf", "--out", str(out)]
        res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    return out, res


def test_design_writes_a_filtered_diverse_sdf(filtered_run):
    out, res = filtered_run
    df = pd.read_csv(out / "candidates.csv", keep_default_na=False)
    assert 0 < len(df) <= 15 and set(DESCRIPTOR_COLUMNS) <= set(df.columns)
    assert (df.pains_alerts == "").all() and (df.brenk_alerts == "").all()
    assert df.lipinski_pass.all()
    assert df.scaffold.is_unique  # at most one per scaffold
    mols = list(Chem.SDMolSupplier(str(out / "candidates.sdf"), removeHs=False))
    assert len(mols) == len(df)
    assert [m.GetProp("inchikey") for m in mols] == df.inchikey.tolist()
    assert all(m.GetConformer().Is3D() for m in mols)
    assert "filters:" in res.output and "floor reward" in res.output
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["task_options"]["filters"] == ["pains", "brenk", "lipinski"]  # a resumed run keeps them
    metrics = pd.read_csv(out / "metrics.csv")
    assert "filtered" in metrics.columns and (metrics.filtered.diff().dropna() >= 0).all()


def test_sample_writes_sdf_and_parquet_by_suffix(filtered_run, tmp_path, request):
    real_or_synthetic(request, "seh-frag-blocks")  # the vocabulary the run was trained on
    out, _ = filtered_run
    res = CliRunner().invoke(app, ["sample", str(out), "-n", "8", "--device", "cpu", "--output",
                                   str(tmp_path / "s.sdf")])
    assert res.exit_code == 0, res.output
    mols = [m for m in Chem.SDMolSupplier(str(tmp_path / "s.sdf")) if m is not None]
    assert len(mols) == 8 and all(m.HasProp("qed") and m.HasProp("brenk_alerts") for m in mols)
    pytest.importorskip("pyarrow", reason="pip install 'molgfn[parquet]'")
    res = CliRunner().invoke(app, ["sample", str(out), "-n", "8", "--device", "cpu", "--output",
                                   str(tmp_path / "s.parquet")])
    assert res.exit_code == 0, res.output
    df = pd.read_parquet(tmp_path / "s.parquet")
    assert len(df) == 8 and set(DESCRIPTOR_COLUMNS) <= set(df.columns) and str(df.hbd.dtype) == "Int64"


def test_score_smiles_has_the_chemistry_columns(tmp_path, request):
    real_or_synthetic(request, "seh-frag-blocks")  # qed-frag loads a vocabulary; the scores do not use it
    f = tmp_path / "in.smi"
    f.write_text("CC(=O)Oc1ccccc1C(=O)O\nO=C1NC(=S)SC1=Cc1ccccc1\n")
    res = CliRunner().invoke(app, ["score", "--task", "qed-frag", "--input", str(f), "--output",
                                   str(tmp_path / "o.csv")])
    assert res.exit_code == 0, res.output
    df = pd.read_csv(tmp_path / "o.csv", keep_default_na=False)
    assert set(DESCRIPTOR_COLUMNS) <= set(df.columns)
    assert df.inchikey[0] == "BSYNRYMUTXBXSQ-UHFFFAOYSA-N" and df.hba[0] == 4
    assert df.pains_alerts.tolist() == ["", "ene_rhod_A(235)"]
    assert df.raw_score.tolist() == pytest.approx(df.qed.tolist())  # qed-frag's raw score is QED


@pytest.mark.parametrize("extra,message", [
    (["--task", "tfbind8", "--filter", "pains"], "constrains fragment molecules"),
    (["--task", "qed-frag", "--filter", "pains,toxic"], "unknown filter"),
    (["--task", "qed-frag", "--format", "xlsx"], "--format must be one of"),
    (["--task", "tfbind8", "--max-per-scaffold", "2"], "need molecules"),
])
def test_bad_chemistry_options_fail_before_training(tmp_path, request, extra, message):
    real_or_synthetic(request, "seh-frag-blocks", "tfbind8-table")
    res = CliRunner().invoke(app, ["design", *extra, "--rounds", "1", "--out", str(tmp_path / "r"), "--quiet"])
    assert res.exit_code == 2 and message in res.output, res.output
    assert not (tmp_path / "r").exists()
