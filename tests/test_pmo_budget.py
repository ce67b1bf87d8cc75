"""--max-oracle-calls (molgfn.budget) and PMO's AUC metric (molgfn.pmo_metric)."""

from __future__ import annotations

import pytest

from molgfn.budget import within_budget
from molgfn.pmo_metric import pmo_report, top_auc


def test_top_auc_matches_a_hand_computed_curve():
    # 100 calls at 0.2, 100 at 0.5, 50 at 0.8; budget 300. Curve sampled at 100 and 200 calls, then
    # at the last call (250): trapezoids from (0, 0): 100*(0+.2)/2 + 100*(.2+.5)/2 + 50*(.5+.8)/2 = 77.5
    scores = [0.2] * 100 + [0.5] * 100 + [0.8] * 50
    assert top_auc(scores, 1, 300, finish=False) == pytest.approx(77.5 / 300)
    # a run that stopped early keeps its final top-n for the 50 calls it did not make
    assert top_auc(scores, 1, 300, finish=True) == pytest.approx((77.5 + 50 * 0.8) / 300)
    assert top_auc(scores, 10, 300, finish=True) == pytest.approx((77.5 + 50 * 0.8) / 300)
    # at exactly the budget the endpoint is not a sampling point (mol_opt's range excludes it):
    # 100*(0+1)/2 + 100*1 + 100*1 = 250
    assert top_auc([1.0] * 300, 10, 300, finish=True) == pytest.approx(250 / 300)
    # fewer than n objects: their mean; objects past the budget do not count
    assert top_auc([0.4, 0.2], 10, 2, finish=True) == pytest.approx(2 * (0.3 / 2) / 2)
    assert top_auc([0.4, 0.2, 1.0], 10, 2, finish=True) == pytest.approx(2 * (0.3 / 2) / 2)


def test_top_n_tracks_the_best_scores_so_far():
    # top-2 mean: at 100 calls {0.9, 0.5} -> 0.7; at the end (150 calls) {0.9, 0.8} -> 0.85
    scores = [0.1] * 98 + [0.9, 0.5] + [0.8] + [0.0] * 49
    want = (100 * (0 + 0.7) / 2 + 50 * (0.7 + 0.85) / 2) / 150
    assert top_auc(scores, 2, 150, finish=False) == pytest.approx(want)
    rep = pmo_report(scores, 150, finish=True)
    assert rep["avg_top1"] == 0.9 and rep["avg_top10"] == pytest.approx((0.9 + 0.8 + 0.5 + 0.1 * 7) / 10)
    assert rep["pmo_oracle_calls"] == 150 and rep["pmo_budget"] == 150


def test_repeats_and_invalid_objects_cost_nothing():
    seen = {"a": 1}
    valid = lambda o: not o.startswith("!")  # noqa: E731
    assert within_budget(["a", "b", "!x", "b", "c"], seen, 5, valid) is None
    # two calls left: "b" and "c" are scored; "d" is past the budget; repeats and "!x" are free
    assert within_budget(["a", "b", "!x", "b", "c", "d", "a"], seen, 2, valid) == [True] * 5 + [False, True]


def _trainer(run_dir, budget, rounds=1000):
    from molgfn.tasks import get_task

    from molgfn.config import TrainConfig
    from molgfn.trainer import Trainer

    opts = {"oracle": "tests.oracles:gc_content", "length": 10, "reward_exponent": 2.0}
    cfg = TrainConfig(task="custom", task_options=opts, rounds=rounds, checkpoint_every=1000, device="cpu", seed=3,
                      batch_size=64, replay_size=16, grad_steps=1, hidden=16, n_layers=1, epsilon=0.5,
                      max_oracle_calls=budget)
    return Trainer(cfg, get_task("custom", **opts), run_dir)


def test_training_stops_at_exactly_the_budget_and_resumes(tmp_path):
    from molgfn.evaluation import evaluate_trainer

    tr = _trainer(tmp_path, 150)
    tr.train()
    assert tr.round == 3 and tr.budget_used == 150  # 64 + 64 + 22 of the third round's 64
    assert len(tr.seen.count) == 150 and tr.metrics[-1]["budget_used"] == 150
    first = list(tr.seen.raw)
    # resumed with a larger budget: continues from the checkpoint to exactly the new budget
    again = _trainer(tmp_path, 250)
    assert again.resume() and again.budget_used == 150
    again.train()
    assert again.budget_used == 250 and len(again.seen.count) == 250 and list(again.seen.raw)[:150] == first
    res = evaluate_trainer(again, n=8)
    assert res["pmo_oracle_calls"] == 250 and res["pmo_budget"] == 250
    assert res["auc_top10"] == pytest.approx(top_auc(list(again.seen.raw.values()), 10, 250, finish=True))


def test_a_run_without_budget_is_unchanged(tmp_path):
    tr = _trainer(None, None, rounds=2)
    tr.train()
    assert tr.round == 2 and len(tr.seen.count) <= 128 and "budget_used" not in tr.metrics[-1]


def test_cli_budget_resume_and_evaluate(tmp_path):
    import json

    from typer.testing import CliRunner

    from cli import app

    out = tmp_path / "run"
    base = ["train", "--task", "custom", "--oracle", "tests.oracles:gc_content", "--length", "10", "--batch-size",
            "32", "--replay-size", "8", "--hidden", "16", "--layers", "1", "--out", str(out), "--quiet"]
    r = CliRunner().invoke(app, base + ["--max-oracle-calls", "40"])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(app, base + ["--max-oracle-calls", "70", "--resume"])
    assert r.exit_code == 0, r.output
    assert "--max-oracle-calls 70 applied (was 40)" in r.output
    r = CliRunner().invoke(app, ["evaluate", str(out), "--num-samples", "8", "--format", "json", "--oracle",
                                 "tests.oracles:gc_content"])
    assert r.exit_code == 0, r.output
    res = json.loads(r.output)
    assert res["pmo_oracle_calls"] == 70 and res["pmo_budget"] == 70 and 0 < res["auc_top10"] <= 1
    r = CliRunner().invoke(app, base[:-3] + ["--out", str(tmp_path / "bad"), "--max-oracle-calls", "0"])
    assert r.exit_code == 2 and "--max-oracle-calls must be an integer in [1, 1000000000]" in r.output
