"""Multi-objective design: transforms, Pareto ranks, hypervolume / IGD / R2 checked against hand
computations, brute force and exact rasterisation, and a two-objective run end to end."""

import itertools
import json
import math

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from cli import app
from molgfn.errors import InputError, OracleError
from molgfn.moo import (
    Component,
    apply_transform,
    exact_front,
    hypervolume,
    igd,
    make_components,
    pareto_front,
    pareto_rank,
    r2_indicator,
)
from tests.moo_oracles import a_and_alternation, brute_pareto_ranks

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


# ---- transforms ----------------------------------------------------------------------------------
def test_reinvent_transforms_at_hand_computed_points():
    s = lambda y: float(apply_transform("sigmoid", (2.0, 6.0, 0.5), np.array([y]))[0])  # noqa: E731
    assert s(4.0) == pytest.approx(0.5)  # the midpoint
    assert s(6.0) == pytest.approx(1 / (1 + 10 ** -2.5))  # 10 K (HIGH - mid) / (HIGH - LOW) = 2.5
    assert s(2.0) == pytest.approx(1 / (1 + 10 ** 2.5))
    r = apply_transform("reverse_sigmoid", (2.0, 6.0, 0.5), np.array([2.0, 4.0, 6.0]))
    assert r.tolist() == pytest.approx([1 - s(2.0), 0.5, 1 - s(6.0)])
    assert apply_transform("step", (1.0, 2.0), np.array([0.99, 1.0, 1.5, 2.0, 2.01])).tolist() == [0, 1, 1, 1, 0]


def test_component_errors_are_clear():
    with pytest.raises(InputError, match="takes 3 numbers: sigmoid:LOW,HIGH,K"):
        Component("qed", 1.0, "sigmoid", (0.2, 0.8))
    with pytest.raises(InputError, match="LOW < HIGH"):
        Component("mw", 1.0, "step", (500.0, 200.0))
    with pytest.raises(InputError, match="--weights has 1 values for 2 objectives"):
        make_components(["a", "b"], [1.0])
    with pytest.raises(InputError, match="not among --objectives"):
        make_components(["a", "b"], None, {"c": "step:0,1"})
    with pytest.raises(InputError, match="unknown transform 'log'"):
        make_components(["a"], None, {"a": "log:1,2"})


# ---- Pareto ranks ------------------------------------------------------------------------------------
@pytest.mark.parametrize("k", [2, 3])
def test_pareto_rank_matches_brute_force(k):
    rng = np.random.default_rng(k)
    Y = rng.integers(0, 5, size=(60, k)).astype(float)  # ties and duplicates on purpose
    assert pareto_rank(Y).tolist() == brute_pareto_ranks(Y).tolist()


# ---- hypervolume, IGD, R2 --------------------------------------------------------------------------
def test_hypervolume_hand_computed_2d_and_3d():
    pts = np.array([[1, 3], [2, 2], [3, 1], [1, 1]], float)  # the last is dominated
    assert hypervolume(pts) == pytest.approx(3 + 2 + 1)  # three unit-wide columns of heights 3, 2, 1
    # with reference (0.5, 0.5): 0.5 * 2.5 + 1 * 1.5 + 1 * 0.5
    assert hypervolume(pts, ref=[0.5, 0.5]) == pytest.approx(3.25)
    assert hypervolume(np.array([[1, 1, 1.0]])) == pytest.approx(1.0)
    # two boxes of 0.25 overlapping in a 0.5^3 cube: 0.25 + 0.25 - 0.125
    assert hypervolume(np.array([[1, 0.5, 0.5], [0.5, 1, 0.5]])) == pytest.approx(0.375)
    assert hypervolume(np.array([[-1.0, 2.0]])) == 0.0  # below the reference: adds nothing


@pytest.mark.parametrize("k", [2, 3, 4])
def test_hypervolume_equals_exact_rasterisation_on_integer_points(k):
    rng = np.random.default_rng(10 + k)
    Y = rng.integers(1, 6, size=(25, k)).astype(float)
    # every unit cell [c, c+1]^k with c in {0..4}^k is dominated iff some point >= its upper corner
    cells = sum(any(all(y >= np.array(c) + 1) for y in Y) for c in itertools.product(range(5), repeat=k))
    assert hypervolume(Y) == pytest.approx(float(cells))


def test_igd_and_r2_identities():
    front = np.array([[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]])
    assert igd(front, front) == 0.0
    assert igd(np.array([[0.5, 0.5]]), front) == pytest.approx((2 * math.sqrt(0.5)) / 3)
    assert r2_indicator(np.array([[1.0, 1.0]])) == 0.0  # the utopian point itself
    worse = np.array([[0.2, 0.2]])
    assert r2_indicator(worse) > r2_indicator(front) > 0


# ---- the enumerable two-objective task ----------------------------------------------------------
L = 10  # AB^10: 1,024 objects


def _brute_front():
    objs = ["".join(p) for p in itertools.product("AB", repeat=L)]
    Y = np.array(a_and_alternation(objs))
    keep = [i for i in range(len(Y)) if not any(all(Y[j] >= Y[i]) and any(Y[j] > Y[i]) for j in range(len(Y)))]
    return {tuple(Y[i]) for i in keep}


def _raster_hv(points):
    # objective 1 is a multiple of 1/L, objective 2 of 1/(2L - 1): count the grid cells dominated
    n1, n2 = L, 2 * L - 1
    return sum(any(p[0] >= (i + 1) / n1 - 1e-12 and p[1] >= (j + 1) / n2 - 1e-12 for p in points)
               for i in range(n1) for j in range(n2)) / (n1 * n2)


def test_exact_front_of_the_enumerable_task_matches_brute_force():
    from molgfn import FunctionTask

    task = FunctionTask(a_and_alternation, alphabet="AB", length=L, objectives=["a", "alt"])
    front = exact_front(task)
    assert {tuple(p) for p in front} == _brute_front()
    assert hypervolume(front) == pytest.approx(_raster_hv(_brute_front()))
    assert len(pareto_front(front)) == len(front)


def test_two_objective_design_and_evaluate_end_to_end(tmp_path):
    out = tmp_path / "r"
    r = run("design", "--task", "custom", "--oracle", "tests.moo_oracles:a_and_alternation", "--alphabet", "AB",
            "--length", L, "--objectives", "a,alt", "--weights", "1,3", "--transform", "a=sigmoid:0.2,0.8,0.5",
            "--rounds", 8, "--batch-size", 16, "--hidden", 16, "--device", "cpu", "--num-candidates", 30,
            "--num-samples", 200, "--out", out)
    assert r.exit_code == 0, r.output
    df = pd.read_csv(out / "candidates.csv", dtype={"sequence": str})
    assert {"pareto_rank", "a", "alt"} <= set(df.columns)
    Y = np.array(a_and_alternation(df["sequence"].tolist()))
    assert df["a"].tolist() == pytest.approx(Y[:, 0].tolist()) and df["alt"].tolist() == pytest.approx(Y[:, 1])
    # the raw score is the weighted mean of the transformed objectives (REINVENT's sigmoid written out)
    t_a = 1 / (1 + 10 ** (-10 * 0.5 * (Y[:, 0] - 0.5) / 0.6))
    assert df["raw_score"].tolist() == pytest.approx(((1 * t_a + 3 * Y[:, 1]) / 4).tolist())
    # Pareto ranks over the listed candidates, in the transformed space, by brute force
    assert df["pareto_rank"].tolist() == brute_pareto_ranks(np.stack([t_a, Y[:, 1]], 1)).tolist()

    r = run("evaluate", out, "-n", 300, "--device", "cpu", "--exact-front", "--format", "json", "--trust-oracle")
    assert r.exit_code == 0, r.output
    ev = json.loads(r.stdout)
    true_front = np.array(sorted(_brute_front()))
    t_front = np.stack([1 / (1 + 10 ** (-10 * 0.5 * (true_front[:, 0] - 0.5) / 0.6)), true_front[:, 1]], 1)
    assert ev["objectives"] == "a,alt"
    assert ev["hypervolume_true_front"] == pytest.approx(hypervolume(pareto_front(t_front)))
    assert 0 < ev["hypervolume"] <= ev["hypervolume_true_front"] + 1e-12
    assert ev["igd"] >= 0 and ev["pareto_front_size"] >= 1 and 0 <= ev["r2"] <= 1
    if ev["igd"] == 0:  # every true-front point sampled: nothing of the front's volume is missing
        assert ev["hypervolume"] == pytest.approx(ev["hypervolume_true_front"])


def test_objective_options_are_checked(tmp_path):
    base = ["design", "--task", "custom", "--oracle", "tests.moo_oracles:a_and_alternation", "--alphabet", "AB",
            "--length", 4, "--rounds", 1, "--device", "cpu", "--out", tmp_path / "x"]
    r = run(*base, "--objectives", "a,alt", "--weights", "1")
    assert r.exit_code == 2 and "--weights has 1 values for 2 objectives" in r.output
    r = run(*base, "--weights", "1,2")
    assert r.exit_code == 2 and "--objectives" in r.output
    r = run("design", "--task", "tfbind8", "--objectives", "a,b", "--out", tmp_path / "y")
    assert r.exit_code == 2 and "--objectives needs a multi-objective task" in r.output


def test_an_oracle_returning_the_wrong_shape_is_named():
    from molgfn import FunctionTask

    task = FunctionTask(__import__("tests.moo_oracles", fromlist=["x"]).wrong_shape, alphabet="AB", length=3,
                        objectives="a,b")
    with pytest.raises(OracleError, match=r"'AAA': returned 1 value\(s\) where one vector of 2 objectives per object"):
        task.raw_scores(["AAA", "ABA"])


def test_molecules_with_two_objectives_get_columns_and_pareto_ranks(tmp_path, request):
    from .conftest import real_or_synthetic
    from .moo_oracles import size_and_nitrogen

    real_or_synthetic(request, "seh-frag-blocks")
    out = tmp_path / "m"
    r = run("design", "--task", "custom-frag", "--oracle", "tests.moo_oracles:size_and_nitrogen",
            "--objectives", "size,nfrac", "--max-blocks", 3, "--rounds", 2, "--batch-size", 8, "--replay-size", 0,
            "--hidden", 16, "--layers", 1, "--device", "cpu", "--num-samples", 16, "--num-candidates", 12,
            "--out", out)
    assert r.exit_code == 0, r.output
    df = pd.read_csv(out / "candidates.csv")
    assert {"pareto_rank", "size", "nfrac", "qed", "mol_weight"} <= set(df.columns)
    Y = np.array(size_and_nitrogen(df["smiles"].tolist()))
    assert df["size"].tolist() == pytest.approx(Y[:, 0].tolist())
    assert df["raw_score"].tolist() == pytest.approx(Y.mean(1).tolist())  # equal weights, identity transforms
    assert df["pareto_rank"].tolist() == brute_pareto_ranks(Y).tolist()


def test_seh_frag_moo_objectives_are_the_documented_normalisations(tmp_path, request):
    import os
    import sys

    from rdkit import Chem
    from rdkit.Chem import QED, RDConfig

    from .conftest import real_or_synthetic

    real_or_synthetic(request, "seh-frag-blocks", "seh-frag-proxy")  # normalisations: any proxy weights
    out = tmp_path / "s"
    r = run("design", "--task", "seh-frag-moo", "--objectives", "seh,qed,sa,mw", "--weights", "2,1,1,1",
            "--max-blocks", 3, "--rounds", 1, "--batch-size", 4, "--replay-size", 0, "--hidden", 16, "--layers", 1,
            "--device", "cpu", "--num-samples", 8, "--num-candidates", 8, "--out", out)
    assert r.exit_code == 0, r.output
    df = pd.read_csv(out / "candidates.csv")
    mols = [Chem.MolFromSmiles(s) for s in df["smiles"]]
    sys.path.append(os.path.join(RDConfig.RDContribDir, "SA_Score"))
    import sascorer

    assert df["qed"].tolist() == pytest.approx([QED.qed(m) for m in mols])
    assert df["sa"].tolist() == pytest.approx([(10 - sascorer.calculateScore(m)) / 9 for m in mols])
    assert df["mw"].tolist() == pytest.approx([min(1.0, max(0.0, (1000 - w) / 700)) for w in df["mol_weight"]])
    smi = tmp_path / "m.smi"
    smi.write_text("\n".join(df["smiles"]) + "\n")
    sc = run("score", "--task", "seh-frag", "--input", smi)  # the sEH proxy through the single-objective task
    assert sc.exit_code == 0, sc.output
    proxy = pd.read_csv(__import__("io").StringIO(sc.stdout))["raw_score"].to_numpy()
    assert df["seh"].tolist() == pytest.approx(np.clip(proxy / 8, 0, 1).tolist(), rel=1e-5)
    Y = df[["seh", "qed", "sa", "mw"]].to_numpy()
    assert df["raw_score"].tolist() == pytest.approx((Y @ np.array([2, 1, 1, 1]) / 5).tolist())
    assert df["pareto_rank"].tolist() == brute_pareto_ranks(Y).tolist()


@pytest.mark.parametrize("k, alpha", [(4, 1.0), (3, 0.5)])
def test_preferences_follow_the_dirichlet_moments_and_are_reproducible(k, alpha):
    import torch

    from molgfn.moo import PreferenceDist

    w = PreferenceDist(k, alpha).sample(40000, gen=torch.Generator().manual_seed(1)).double()
    assert torch.allclose(w.sum(1), torch.ones(len(w), dtype=torch.float64), atol=1e-6) and (w >= 0).all()
    a0 = k * alpha  # Dirichlet(alpha 1_k): mean 1/k, variance alpha (a0 - alpha) / (a0^2 (a0 + 1))
    assert w.mean(0).tolist() == pytest.approx([1 / k] * k, abs=0.01)
    assert w.var(0).tolist() == pytest.approx([alpha * (a0 - alpha) / (a0**2 * (a0 + 1))] * k, rel=0.05)
    again = PreferenceDist(k, alpha).sample(5, gen=torch.Generator().manual_seed(1))
    assert torch.equal(again, PreferenceDist(k, alpha).sample(5, gen=torch.Generator().manual_seed(1)))


def test_conditional_log_reward_by_hand():
    from molgfn.moo import conditional_log_reward

    Y = [[0.5, 1.0], [0.0, 0.0]]
    w = [[0.25, 0.75], [0.5, 0.5]]
    got = conditional_log_reward(Y, w, reward_exponent=2.0, log_scale=0.5).tolist()
    assert got == pytest.approx([0.5 + 2 * math.log(0.875), 0.5 + 2 * math.log(1e-3)])
