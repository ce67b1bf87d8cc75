"""Scoring files (issue 20): REINVENT 4's transforms at hand-computed points, both aggregations, the
floor for a zero component, `design --task custom-frag --scoring FILE` end to end (columns, forbidden
substructures, resume), `score --scoring FILE`, the library's dict form, and one-line errors."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch
from rdkit import Chem
from rdkit.Chem import QED, DataStructs, rdFingerprintGenerator
from typer.testing import CliRunner

from cli import app
from molgfn.chem import transforms as tf
from molgfn.chem.scoring import ScoringError, load_scoring

from .fragment_helpers import write_vocab

runner = CliRunner()

# the issue's example, with one more forbidden SMARTS (an aniline N) that the tiny vocabulary builds often,
# so that "no candidate holds a forbidden substructure" is tested on molecules that were proposed
EXAMPLE = """
aggregation = "geometric"          # or "sum"
[[component]]
kind = "qed"                       # any descriptor column: qed, sa_score, clogp, tpsa, mol_weight, hbd, hba, ...
weight = 1.0
transform = { type = "sigmoid", low = 0.3, high = 0.9 }
[[component]]
kind = "similarity"
smiles = ["CC(=O)Oc1ccccc1C(=O)O"]
weight = 1.0
[[component]]
kind = "substructure"
smarts = ["[NX3;!R][NX3;!R]", "[NH2]c"]
forbid = true
"""
ASPIRIN = "CC(=O)Oc1ccccc1C(=O)O"


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def one_line(output: str) -> str:
    lines = [ln for ln in output.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, output
    return lines[0]


# ---- transforms and aggregation ------------------------------------------------------------------
def test_reinvent_transforms_at_hand_computed_points():
    def t(spec, x):
        return float(tf.apply(spec, np.array([x]))[0])

    sig = {"type": "sigmoid", "low": 2.0, "high": 6.0, "k": 0.5}
    assert t(sig, 4.0) == pytest.approx(0.5)  # the midpoint
    assert t(sig, 6.0) == pytest.approx(1 / (1 + 10 ** -2.5))  # 10 k (x - mid) / (high - low) = 2.5
    assert t({**sig, "type": "reverse_sigmoid"}, 5.0) == pytest.approx(1 - 1 / (1 + 10 ** -1.25))
    assert t({"type": "sigmoid", "low": 0.3, "high": 0.9}, 0.9) == pytest.approx(1 / (1 + 10 ** -2.5))  # k = 0.5
    assert t({"type": "sigmoid", "low": 3.0, "high": 3.0, "k": 1.0}, 3.5) == 1.0  # low == high: a hard step
    dbl = {"type": "double_sigmoid", "low": 2.0, "high": 6.0}  # coef_div 100, coef_si = coef_se = 150
    assert t(dbl, 2.0) == pytest.approx(0.5) and t(dbl, 6.0) == pytest.approx(0.5)
    assert t(dbl, 1.0) == pytest.approx(1 / (1 + 10 ** 1.5))  # left: 1 / (1 + 10^(-1.5 (x - low)))
    assert t(dbl, 4.0) == pytest.approx(1 - 1 / (1 + 10 ** 3))  # the centre is on the right branch
    assert t(dbl, 7.0) == pytest.approx(1 - 1 / (1 + 10 ** -1.5))
    assert t({**dbl, "coef_si": 300.0}, 1.0) == pytest.approx(1 / (1 + 10 ** 3))
    step = {"type": "step", "low": 2.0, "high": 6.0}
    assert [t(step, x) for x in (1.9, 2.0, 6.0, 6.1)] == [0.0, 1.0, 1.0, 0.0]
    vm = {"type": "value_mapping", "mapping": {"0": 1.0, "1": 0.5, "2.5": 0.2}}
    out = tf.apply(vm, np.array([0.0, 1.0, 2.5, 3.0]))
    assert out[:3].tolist() == [1.0, 0.5, 0.2] and math.isnan(out[3])  # unmapped: NaN, left out as in REINVENT


def test_aggregations_normalise_weights_and_a_zero_makes_the_geometric_mean_zero():
    S = np.array([[0.5, 1.0], [0.0, 0.9], [0.4, np.nan]])
    w = [1.0, 3.0]
    assert tf.aggregate(S, w, "sum").tolist() == pytest.approx([(0.5 + 3.0) / 4, 2.7 / 4, 0.4])
    geo = tf.aggregate(S, w, "geometric")
    assert geo[0] == pytest.approx(0.5 ** 0.25)
    assert geo[1] == 0.0  # not REINVENT's 1e-8 clamp: a zero score is the floor
    assert geo[2] == pytest.approx(0.4)  # the NaN component is left out and the weights renormalised


def test_geometric_zero_component_gives_the_floor_reward(tmp_path):
    from molgfn.scoring_task import ScoringTask

    spec = {"aggregation": "geometric", "component": [
        {"kind": "qed"}, {"kind": "substructure", "smarts": ["[NH2]c"], "forbid": True}]}
    task = ScoringTask(spec, vocab=str(write_vocab(tmp_path)), max_blocks=3, reward_exponent=2.0)
    df = task.score_table(["Nc1ccccc1", "Oc1ccccc1"])
    floor = float(task.log_reward(torch.tensor([task.raw_floor], dtype=torch.float64)).exp())
    assert df["raw_score"].tolist()[0] == 0.0 and df["reward"].tolist()[0] == pytest.approx(floor)
    qed = QED.qed(Chem.MolFromSmiles("Oc1ccccc1"))
    assert df["raw_score"].tolist()[1] == pytest.approx(qed ** 0.5)  # QED^(1/2) * 1^(1/2)
    assert df["qed_raw"].tolist() == pytest.approx([QED.qed(Chem.MolFromSmiles("Nc1ccccc1")), qed])
    assert df["substructure_raw"].tolist() == [1.0, 0.0] and df["substructure_score"].tolist() == [0.0, 1.0]
    assert task.is_candidate("Oc1ccccc1") and not task.is_candidate("Nc1ccccc1")  # a hard constraint
    task.close()


def test_sum_aggregation_and_the_library_dict_equal_the_toml_file(tmp_path):
    from molgfn.scoring_task import ScoringTask

    f = tmp_path / "s.toml"
    f.write_text('aggregation = "sum"\n[[component]]\nkind = "mol_weight"\nweight = 3\n'
                 'transform = {type = "step", low = 0, high = 100}\n[[component]]\nkind = "qed"\n')
    spec = {"aggregation": "sum", "component": [
        {"kind": "mol_weight", "weight": 3, "transform": {"type": "step", "low": 0, "high": 100}}, {"kind": "qed"}]}
    assert load_scoring(f).spec == load_scoring(spec).spec
    task = ScoringTask(spec, vocab=str(write_vocab(tmp_path)))
    df = task.score_table(["Oc1ccccc1", "CCCCCCCCCC"])  # 94 Da (in the step), 142 Da (outside)
    qed = [QED.qed(Chem.MolFromSmiles(s)) for s in ("Oc1ccccc1", "CCCCCCCCCC")]
    assert df["raw_score"].tolist() == pytest.approx([(3 + qed[0]) / 4, qed[1] / 4])
    task.close()


def test_store_version_follows_what_raw_values_depend_on():
    base = {"component": [{"kind": "similarity", "smiles": [ASPIRIN]}]}
    h = load_scoring(base).raw_hash
    assert load_scoring({"component": [{"kind": "similarity", "smiles": ["c1ccccc1O"]}]}).raw_hash != h
    assert load_scoring({"component": [{"kind": "similarity", "smiles": [ASPIRIN], "bits": 2048}]}).raw_hash != h
    # weights and transforms are applied to the stored raw values: the same rows serve them
    assert load_scoring({"aggregation": "sum", "component": [{"kind": "similarity", "smiles": [ASPIRIN],
                                                              "weight": 2}]}).raw_hash == h


# ---- the CLI ---------------------------------------------------------------------------------------
def test_design_with_the_issues_scoring_file(tmp_path):
    vocab = write_vocab(tmp_path)
    sc = tmp_path / "scoring.toml"
    sc.write_text(EXAMPLE)
    out = tmp_path / "run"
    common = ["--max-blocks", 3, "--batch-size", 8, "--replay-size", 0, "--hidden", 16, "--layers", 1,
              "--device", "cpu", "--no-local-search", "--quiet"]
    r = run("design", "--task", "custom-frag", "--scoring", sc, "--vocab", vocab, "--rounds", 3, *common,
            "--num-samples", 16, "--num-candidates", 50, "--out", out)
    assert r.exit_code == 0, r.output
    df = pd.read_csv(out / "candidates.csv")
    assert len(df) > 0
    for name in ("qed", "similarity", "substructure"):
        assert {f"{name}_raw", f"{name}_score"} <= set(df.columns)
    pats = [Chem.MolFromSmarts(s) for s in ("[NX3;!R][NX3;!R]", "[NH2]c")]
    mols = [Chem.MolFromSmiles(s) for s in df["smiles"]]
    assert not any(m.HasSubstructMatch(p) for m in mols for p in pats)
    assert (df["substructure_raw"] == 0).all() and (df["substructure_score"] == 1).all()
    metrics = pd.read_csv(out / "metrics.csv")
    assert metrics["filtered"].iloc[-1] > 0  # forbidden molecules were proposed, and got the floor uncalled
    # every column is what it says: raw values recomputed here, scores by the documented formulas
    assert df["qed_raw"].tolist() == pytest.approx([QED.qed(m) for m in mols])
    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=1024)
    ref = gen.GetFingerprint(Chem.MolFromSmiles(ASPIRIN))
    sims = [DataStructs.TanimotoSimilarity(gen.GetFingerprint(m), ref) for m in mols]
    assert df["similarity_raw"].tolist() == pytest.approx(sims)
    q = df["qed_raw"].to_numpy()
    assert df["qed_score"].tolist() == pytest.approx((1 / (1 + 10 ** (-5 * (q - 0.6) / 0.6))).tolist())
    geo = (df["qed_score"] * df["similarity_score"] * df["substructure_score"]) ** (1 / 3)
    assert df["raw_score"].tolist() == pytest.approx(geo.tolist())
    r = run("sample", out, "-n", 6, "--output", tmp_path / "s.csv")  # every list has the component columns
    assert r.exit_code == 0, r.output
    drawn = pd.read_csv(tmp_path / "s.csv")
    assert {"qed_raw", "qed_score", "similarity_raw", "substructure_score"} <= set(drawn.columns)
    stored = json.loads((out / "config.json").read_text())
    # a resumed run keeps the content the run started with, even once the file is edited
    sc.write_text(EXAMPLE.replace('kind = "qed"', 'kind = "tpsa"'))
    r = run("train", "--out", out, "--resume", "--rounds", 4, "--data-dir", tmp_path, "--quiet")
    assert r.exit_code == 0, r.output
    again = json.loads((out / "config.json").read_text())
    assert again["task_options"]["scoring"] == stored["task_options"]["scoring"]
    assert again["task_options"]["scoring"]["component"][0]["kind"] == "qed"
    r = run("train", "--out", out, "--resume", "--rounds", 5, "--scoring", sc, "--quiet")
    assert r.exit_code == 2 and "differs from the scoring this run was started with" in one_line(r.output)


def test_score_command_gives_every_component_and_the_floor(tmp_path):
    sc = tmp_path / "scoring.toml"
    sc.write_text(EXAMPLE)
    mols = tmp_path / "mols.smi"
    mols.write_text(f"{ASPIRIN}\nNc1ccccc1\n")
    r = run("score", "--scoring", sc, "--input", mols, "--task-option", f"vocab={write_vocab(tmp_path)}")
    assert r.exit_code == 0, r.output
    df = pd.read_csv(__import__("io").StringIO(r.stdout))
    assert df["similarity_raw"].tolist()[0] == pytest.approx(1.0)
    assert df["qed_raw"].tolist() == pytest.approx(df["qed"].tolist())
    assert df["substructure_raw"].tolist() == [0.0, 1.0]
    assert df["raw_score"].tolist()[1] == 0.0 and df["reward"].tolist()[1] == pytest.approx(1e-3)


def test_oracle_component_is_loaded_only_when_named(tmp_path):
    vocab = write_vocab(tmp_path)
    sc = tmp_path / "scoring.toml"
    sc.write_text('aggregation = "sum"\n[[component]]\nkind = "oracle"\noracle = "tests.fragment_helpers:smiles_length"'
                  '\ntransform = {type = "reverse_sigmoid", low = 2, high = 20}\n')
    out = tmp_path / "run"
    r = run("train", "--task", "custom-frag", "--scoring", sc, "--vocab", vocab, "--rounds", 1, "--batch-size", 4,
            "--max-blocks", 2, "--replay-size", 0, "--hidden", 8, "--layers", 1, "--device", "cpu", "--out", out,
            "--no-local-search", "--quiet")
    assert r.exit_code == 0, r.output
    r = run("train", "--out", out, "--resume", "--quiet")
    assert r.exit_code == 2
    assert "tests.fragment_helpers:smiles_length" in one_line(r.output) and "--trust-oracle" in r.output
    r = run("train", "--out", out, "--resume", "--rounds", 2, "--trust-oracle", "--quiet")
    assert r.exit_code == 0, r.output


@pytest.mark.parametrize("text, expect", [
    ('[[component]]\nkind = "qedd"\n', r"component 1: kind 'qedd' is unknown \(did you mean qed\?\)"),
    ('[[component]]\nkind = "qed"\n[[component]]\nkind = "mol_weight"\n',
     r"component 2 \(kind mol_weight\): mol_weight values are not scores in \[0, 1\]: give a transform"),
    ('[[component]]\nkind = "substructure"\nsmarts = ["[C"]\n', r"component 1 \(kind substructure\): SMARTS '\[C'"),
    ('[[component]]\nkind = "qed"\ntransform = {type = "sigmoidd", low = 0, high = 1}\n',
     r"component 1 \(kind qed\): transform type 'sigmoidd' is unknown"),
    ('[[component]]\nkind = "qed"\ntransform = {type = "sigmoid", low = 1, high = 0}\n',
     r"component 1 \(kind qed\): transform sigmoid needs low <= high"),
    ('[[component]]\nkind = "similarity"\nsmiles = ["C1CC"]\n', r"component 1 \(kind similarity\): reference SMILES"),
    ('[[component]]\nkind = "qed"\nwieght = 2\n', r"component 1 \(kind qed\): has no key 'wieght' \(did you mean "
                                                  r"weight\?\)"),
    ('[[component]]\nkind = "oracle"\noracle = "nomodule"\n', r"component 1 \(kind oracle\): needs oracle = "),
    ('[[component]]\nkind = "alerts"\nfile = "missing.txt"\n', r"component 1 \(kind alerts\): cannot read SMARTS file"),
    ('aggregation = "product"\n[[component]]\nkind = "qed"\n', r'aggregation must be "geometric" or "sum"'),
    ('aggregation = "sum"\n', r"has no \[\[component\]\] tables"),
    ('[[component]\nkind = "qed"\n', r"is not valid TOML"),
])
def test_bad_scoring_files_give_one_line_errors(tmp_path, text, expect):
    import re

    sc = tmp_path / "bad.toml"
    sc.write_text(text)
    with pytest.raises(ScoringError) as e:
        load_scoring(sc)
    assert re.search(f"scoring file {re.escape(str(sc))}: " + expect, str(e.value)), str(e.value)
    mols = tmp_path / "m.smi"
    mols.write_text("CCO\n")
    r = run("score", "--scoring", sc, "--input", mols)
    assert r.exit_code == 2 and re.search(expect, r.output.replace("\n", " ")), r.output


def test_scoring_needs_custom_frag_and_not_oracle(tmp_path):
    sc = tmp_path / "s.toml"
    sc.write_text('[[component]]\nkind = "qed"\n')
    mols = tmp_path / "m.smi"
    mols.write_text("CCO\n")
    r = run("score", "--task", "seh-frag", "--scoring", sc, "--input", mols)
    assert r.exit_code == 2 and "--scoring scores fragment molecules built by --task custom-frag" in r.output
    r = run("score", "--task", "custom-frag", "--scoring", sc, "--oracle", "tests.fragment_helpers:smiles_length",
            "--input", mols)
    assert r.exit_code == 2 and "give --scoring or --oracle, not both" in r.output


def test_an_alert_file_is_read_into_the_recorded_scoring(tmp_path):
    (tmp_path / "alerts.txt").write_text("# my alerts\n[#7;!n][#7;!n]  hydrazine\n\nC#C alkyne\n")
    (tmp_path / "s.toml").write_text('[[component]]\nkind = "alerts"\nfile = "alerts.txt"\n')  # next to the file
    spec = load_scoring(tmp_path / "s.toml").spec
    assert spec["component"][0]["smarts"] == ["[#7;!n][#7;!n]", "C#C"] and spec["component"][0]["forbid"] is True
    assert "file" not in spec["component"][0]  # the content, not the path: a resumed run needs no file
    assert load_scoring(spec).spec == spec  # what config.json holds loads back unchanged


def test_the_library_exports_the_scoring_task():
    import molgfn

    assert molgfn.ScoringTask.__module__ == "molgfn.scoring_task" and callable(molgfn.load_scoring)
