"""Scoring files (issue 20), the later components: a Vina docking score as a component (its pose in the
store and the SDF, as the vina task's), kind = "admet" refused with what blocks it, every component a
line of report.html, and the components as the objectives of a preference-conditioned run."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from rdkit import Chem
from rdkit.Chem import QED
from typer.testing import CliRunner

from cli import app
from molgfn.chem.scoring import ScoringError, load_scoring

from .fragment_helpers import write_vocab
from .test_vina import need_vina, shell_receptor

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def vina_scoring(tmp_path, extra: str = "") -> str:
    rec = shell_receptor(tmp_path / "pocket.pdbqt")
    return ('aggregation = "sum"\n[[component]]\nkind = "qed"\n[[component]]\nkind = "vina"\nname = "dock"\n'
            f'receptor = "{rec.name}"\ncenter = [0, 0, 0]\nsize = [12, 12, 12]\nexhaustiveness = 1\nweight = 2\n'
            'transform = {type = "reverse_sigmoid", low = -8, high = -2, k = 0.5}\n' + extra)


# ---- kind = "vina" ---------------------------------------------------------------------------------
def test_a_vina_component_docks_and_its_pose_reaches_the_store_and_the_sdf(tmp_path):
    need_vina()
    from molgfn.chem import transforms as tf
    from molgfn.oracle import read_store

    sc = tmp_path / "s.toml"
    sc.write_text(vina_scoring(tmp_path))  # the receptor path is relative to the scoring file
    f = tmp_path / "in.smi"
    f.write_text("CCO\nNc1ccccc1C(=O)O\n")
    args = ["score", "--scoring", sc, "--input", f, "--task-option", f"vocab={write_vocab(tmp_path)}",
            "--executor", "local", "--score-store", tmp_path / "s.db"]
    r = run(*args, "-o", tmp_path / "a.sdf")
    assert r.exit_code == 0, r.output
    stored = read_store(tmp_path / "s.db").set_index("object")
    docked: dict[str, float] = {}
    for out in ("a.sdf", "b.sdf"):  # b: served by the store (scores and poses), nothing docked again
        if out == "b.sdf":
            r = run(*args, "-o", tmp_path / out)
            assert r.exit_code == 0, r.output
        mols = list(Chem.SDMolSupplier(str(tmp_path / out), removeHs=False))
        assert [m.GetProp("coordinates") for m in mols] == ["docked pose"] * 2
        for m in mols:
            smi = m.GetProp("smiles")
            pose = Chem.MolFromMolBlock(stored.loc[smi, "extra"], removeHs=False)
            assert np.allclose(m.GetConformer().GetPositions(), pose.GetConformer().GetPositions(), atol=1e-3)
            dock, qed = float(m.GetProp("dock_raw")), float(m.GetProp("qed_raw"))
            docked[smi] = dock
            assert dock < 0 and qed == pytest.approx(QED.qed(Chem.MolFromSmiles(smi)))
            t = float(tf.apply({"type": "reverse_sigmoid", "low": -8.0, "high": -2.0, "k": 0.5}, np.array([dock]))[0])
            assert float(m.GetProp("dock_score")) == pytest.approx(t)
            assert float(m.GetProp("raw_score")) == pytest.approx((qed + 2 * t) / 3)
    # the vina task docks with the same code: its score is the component's raw value (Vina's search at
    # exhaustiveness 1 varies by a few hundredths of a kcal/mol between engines)
    from molgfn.tasks import get_task

    task = get_task("vina", receptor=str(tmp_path / "pocket.pdbqt"), center="0,0,0", size="12,12,12",
                    exhaustiveness=1, vocab=str(write_vocab(tmp_path)))
    try:
        assert task.score_smiles(["CCO"]).tolist() == pytest.approx([docked["CCO"]], abs=0.2)
    finally:
        task.close()


def test_vina_components_store_version_follows_the_receptor_and_box(tmp_path):
    need_vina()
    sc = tmp_path / "s.toml"
    sc.write_text(vina_scoring(tmp_path))
    h = load_scoring(sc).raw_hash
    sc.write_text(vina_scoring(tmp_path).replace("size = [12, 12, 12]", "size = [14, 12, 12]"))
    assert load_scoring(sc).raw_hash != h
    sc.write_text(vina_scoring(tmp_path))
    with open(tmp_path / "pocket.pdbqt", "a") as fh:  # the receptor's content, not only its path
        fh.write("ATOM      1  C   ALA A  99      9.000   9.000   9.000  1.00  0.00    +0.000 C \n")
    assert load_scoring(sc).raw_hash != h
    spec = load_scoring(sc).spec
    assert spec["component"][1]["receptor"] == str((tmp_path / "pocket.pdbqt").resolve())
    assert load_scoring(spec).spec == spec  # what config.json holds loads back unchanged


@pytest.mark.parametrize("keys, expect", [
    ('receptor = "pocket.pdbqt"\ncenter = [0, 0, 0]\nsize = [12, 12, 12]\n',
     r"component 1 \(kind vina\): Vina scores are kcal/mol, lower binding better: give a transform.*reverse_sigmoid"),
    ('receptor = "nope.pdbqt"\ncenter = [0, 0, 0]\nsize = [12, 12, 12]\nTF\n',
     r"component 1 \(kind vina\): receptor file .*nope.pdbqt does not exist"),
    ('receptor = "pocket.pdbqt"\ncenter = [0, 0]\nsize = [12, 12, 12]\nTF\n',
     r"component 1 \(kind vina\): center must be three numbers"),
    ('receptor = "pocket.pdbqt"\ncenter = [0, 0, 0]\nTF\n', r"component 1 \(kind vina\): needs a receptor and a box"),
    ('receptor = "pocket.pdbqt"\ncenter = [0, 0, 0]\nsize = [12, 12, 12]\nexhaustiveness = 0\nTF\n',
     r"component 1 \(kind vina\): exhaustiveness must be a whole number in \[1, 64\]"),
    ('target = "DRD2"\nreceptor = "pocket.pdbqt"\nTF\n',
     r"component 1 \(kind vina\): give target = DRD2 or receptor = \S*pocket.pdbqt, not both"),
    ('receptor = "pocket.pdbqt"\ncentre = [0, 0, 0]\nTF\n',
     r"component 1 \(kind vina\): has no key 'centre' \(did you mean center\?\)"),
])
def test_bad_vina_components_give_one_line_errors(tmp_path, keys, expect):
    need_vina()
    shell_receptor(tmp_path / "pocket.pdbqt")
    sc = tmp_path / "bad.toml"
    tf = 'transform = {type = "reverse_sigmoid", low = -12, high = -6, k = 0.5}'
    sc.write_text('[[component]]\nkind = "vina"\n' + keys.replace("TF", tf))
    with pytest.raises(ScoringError) as e:
        load_scoring(sc)
    assert re.search(f"scoring file {re.escape(str(sc))}: " + expect, str(e.value)), str(e.value)
    assert "\n" not in str(e.value)


def test_admet_components_say_what_blocks_them(tmp_path):
    sc = tmp_path / "s.toml"
    sc.write_text('[[component]]\nkind = "admet"\nproperty = "hERG"\n')
    m = tmp_path / "m.smi"
    m.write_text("CCO\n")
    r = run("score", "--scoring", sc, "--input", m)
    assert r.exit_code == 2, r.output
    line = " ".join(r.output.split())
    assert "component 1 (kind admet): ADMET-AI predictions are not available" in line
    assert "pins another RDKit version" in line and 'kind = "oracle"' in line


# ---- every component a line of the report ----------------------------------------------------------
def test_every_component_is_a_line_of_the_report_with_its_numbers(tmp_path):
    import html
    import json

    from molgfn.report import _fmt, make_report

    spec = load_scoring({"aggregation": "geometric", "component": [
        {"kind": "qed", "weight": 2.0, "transform": {"type": "sigmoid", "low": 0.3, "high": 0.9}},
        {"kind": "mol_weight", "name": "mw", "transform": {"type": "reverse_sigmoid", "low": 200, "high": 500}},
        {"kind": "substructure", "smarts": ["[NH2]c"], "forbid": True}]}).spec
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "config.json").write_text(json.dumps({"task": "custom-frag", "task_options": {"scoring": spec}}))
    smiles = ["CCO", "c1ccccc1O", "CC(=O)Oc1ccccc1C(=O)O", "CCCCCCCCCC"]
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"rank": range(1, 5), "smiles": smiles, "raw_score": rng.random(4),
                       "qed_raw": rng.random(4), "qed_score": rng.random(4), "mw_raw": 100 + 400 * rng.random(4),
                       "mw_score": rng.random(4), "substructure_raw": [0.0] * 4, "substructure_score": [1.0] * 4})
    df.loc[3, ["qed_raw", "qed_score"]] = np.nan  # an unscored row is left out of the numbers
    df.to_csv(run_dir / "candidates.csv", index=False)
    make_report(run_dir)
    page = (run_dir / "report.html").read_text()
    rows = {m.group(1): [html.unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", m.group(2))]
            for m in re.finditer(r'<tr data-component="([^"]+)">(.*?)</tr>', page)}
    assert list(rows) == ["qed", "mw", "substructure"]

    def spread(col):
        v = df[col].dropna()
        return f"{_fmt(float(v.median()))} [{_fmt(float(v.min()))}, {_fmt(float(v.max()))}]"

    assert rows["qed"] == ["qed", "qed", "2", "sigmoid(low=0.3, high=0.9, k=0.5)", spread("qed_raw"),
                           spread("qed_score"), "3"]
    assert rows["mw"][:4] == ["mw", "mol_weight", "1", "reverse_sigmoid(low=200, high=500, k=0.5)"]
    assert rows["mw"][4:] == [spread("mw_raw"), spread("mw_score"), "4"]
    assert rows["substructure"][3:] == ["forbidden: a hit scores 0", "0 [0, 0]", "1 [1, 1]", "4"]
    assert "Aggregation: geometric" in page


# ---- the components as the objectives of a preference-conditioned run -----------------------------
ASPIRIN = "CC(=O)Oc1ccccc1C(=O)O"
PREFERENCE = f"""
aggregation = "preference"
[[component]]
kind = "qed"
weight = 1.0
transform = {{ type = "sigmoid", low = 0.3, high = 0.9 }}
[[component]]
kind = "similarity"
name = "sim"
smiles = ["{ASPIRIN}"]
weight = 3.0
[[component]]
kind = "substructure"
smarts = ["[NX3;!R][NX3;!R]", "[NH2]c"]
forbid = true
"""


def hand_scores(smiles: list[str]) -> np.ndarray:
    """(n, 2) QED through REINVENT's sigmoid (k = 0.5) and Tanimoto to aspirin (Morgan 2, 1024 bits)."""
    from rdkit import DataStructs
    from rdkit.Chem import rdFingerprintGenerator

    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=1024)
    ref = gen.GetFingerprint(Chem.MolFromSmiles(ASPIRIN))
    out = []
    for s in smiles:
        m = Chem.MolFromSmiles(s)
        q = QED.qed(m)
        out.append([1 / (1 + 10 ** (-5 * (q - 0.6) / 0.6)), DataStructs.TanimotoSimilarity(gen.GetFingerprint(m), ref)])
    return np.array(out)


def test_preference_scoring_trains_one_sampler_with_every_objective_a_column(tmp_path):
    import json

    from molgfn.moo import pareto_rank

    sc = tmp_path / "s.toml"
    sc.write_text(PREFERENCE)
    out = tmp_path / "run"
    r = run("design", "--task", "custom-frag", "--scoring", sc, "--vocab", write_vocab(tmp_path), "--rounds", 3,
            "--max-blocks", 3, "--batch-size", 8, "--replay-size", 0, "--hidden", 16, "--layers", 1, "--device", "cpu",
            "--no-local-search", "--quiet", "--num-samples", 16, "--num-candidates", 500,
            "--preference-dist", "dirichlet:1", "--out", out)
    assert r.exit_code == 0, r.output
    assert json.loads((out / "config.json").read_text())["preference_dist"] == "dirichlet:1"
    df = pd.read_csv(out / "candidates.csv")
    assert len(df) > 0 and {"qed_score", "sim_score", "pareto_rank", "preference", "qed_raw", "sim_raw"} <= set(df)
    S = hand_scores(df["smiles"].tolist())
    assert np.allclose(df[["qed_score", "sim_score"]].to_numpy(), S)
    assert df["raw_score"].tolist() == pytest.approx(((S[:, 0] + 3 * S[:, 1]) / 4).tolist())  # the fixed weighting
    assert df["pareto_rank"].tolist() == pareto_rank(S).tolist()  # ranked on the objectives
    pats = [Chem.MolFromSmarts(p) for p in ("[NX3;!R][NX3;!R]", "[NH2]c")]  # a constraint, not an objective
    assert not any(Chem.MolFromSmiles(s).HasSubstructMatch(p) for s in df["smiles"] for p in pats)
    r = run("sample", out, "-n", 4, "--preference", "1,0", "--output", tmp_path / "s.csv")
    assert r.exit_code == 0, r.output
    r = run("report", out)
    assert r.exit_code == 0, r.output
    assert "Objectives: qed_score, sim_score" in (out / "report.html").read_text()


def test_the_reward_at_a_fixed_preference_is_the_weighted_combination(tmp_path):
    import torch

    from molgfn.api import make_config
    from molgfn.scoring_task import ScoringTask
    from molgfn.trainer import Trainer

    task = ScoringTask(load_scoring(PREFERENCE_DICT).spec, vocab=str(write_vocab(tmp_path)), max_blocks=3,
                       reward_exponent=2.0)
    assert [c.name for c in task.components] == ["qed_score", "sim_score"]
    cfg = make_config(task, rounds=1, batch_size=8, replay_size=0, hidden=16, n_layers=1, device="cpu",
                      preference_dist="dirichlet:1", local_search=False, track_modes=False, seed=0)
    tr = Trainer(cfg, task)
    tokens = tr.sample(32, pref="0.3,0.7")
    objs = tr.env.to_strings(tokens)
    # what the trainer's reward of a batch at preferences w is (Trainer._evaluate, preference runs)
    logr = tr._conditional_log_reward(tr._objective_vectors(objs), torch.tensor([[0.3, 0.7]] * len(objs))).double()
    ok = [i for i, s in enumerate(objs) if task.is_candidate(s)]
    bad = [i for i in range(len(objs)) if i not in ok]
    assert ok and bad  # forbidden (and invalid) molecules were drawn too: they get the floor at every w
    expect = np.full(len(objs), 2.0 * np.log(task.raw_floor))
    expect[ok] = 2.0 * np.log(np.maximum(hand_scores([objs[i] for i in ok]) @ np.array([0.3, 0.7]), task.raw_floor))
    assert logr.numpy() == pytest.approx(expect + task.log_scale)
    task.close()


PREFERENCE_DICT = {"aggregation": "preference", "component": [
    {"kind": "qed", "transform": {"type": "sigmoid", "low": 0.3, "high": 0.9}},
    {"kind": "similarity", "name": "sim", "smiles": [ASPIRIN], "weight": 3.0},
    {"kind": "substructure", "smarts": ["[NX3;!R][NX3;!R]", "[NH2]c"], "forbid": True}]}


def test_preference_needs_two_objectives(tmp_path):
    with pytest.raises(ScoringError, match=r"needs at least two; it has 1 \(forbidden substructures are constraints"):
        load_scoring({"aggregation": "preference", "component": [
            {"kind": "qed"}, {"kind": "alerts", "smarts": ["C#C"]}]})


def test_a_component_name_may_not_take_a_column_of_the_list():
    for name in ("raw", "sa"):  # raw_score is the aggregate, sa_score a descriptor column
        with pytest.raises(ScoringError, match=f"component 1 \\(kind qed\\): name '{name}' would give the column "
                                               f"{name}_score, which candidate lists already have"):
            load_scoring({"component": [{"kind": "qed", "name": name}]})


def test_a_vina_component_takes_a_dockstring_target_and_may_override_its_box():
    need_vina()
    from molgfn.chem.docktargets import resolve_target, targets_dir

    if targets_dir() is None:
        pytest.skip('dockstring is not installed: pip install "molgfn[docking]"')
    from molgfn.chem.scoring import dock_settings_of

    tf = {"type": "reverse_sigmoid", "low": -12, "high": -6}
    sc = load_scoring({"component": [{"kind": "vina", "target": "drd2", "exhaustiveness": 1, "transform": tf}]})
    d = dock_settings_of(sc.components[0])
    rec, center, size = resolve_target("DRD2")
    assert (d.receptor, d.center, d.size, d.exhaustiveness) == (str(rec), center, size, 1)
    assert sc.components[0]["target"] == "DRD2"  # dockstring's spelling, whatever the file's
    same = load_scoring({"component": [{"kind": "vina", "target": "DRD2", "exhaustiveness": 1, "transform": tf}]})
    assert same.raw_hash == sc.raw_hash
    wider = load_scoring({"component": [{"kind": "vina", "target": "DRD2", "size": [30, 30, 30], "transform": tf}]})
    assert dock_settings_of(wider.components[0]).size == (30.0, 30.0, 30.0)
    other = load_scoring({"component": [{"kind": "vina", "target": "ABL1", "exhaustiveness": 1, "transform": tf}]})
    assert len({sc.raw_hash, wider.raw_hash, other.raw_hash}) == 3  # the store keeps each one's rows apart
    with pytest.raises(ScoringError, match=r"component 1 \(kind vina\): unknown docking target 'DRD9' \(did you mean"):
        load_scoring({"component": [{"kind": "vina", "target": "DRD9", "transform": tf}]})
