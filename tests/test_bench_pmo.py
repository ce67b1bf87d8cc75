"""`molgfn bench --preset pmo` (issue 19): the preset, a budgeted grid run and PMO's table."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from molgfn import bench as B
from molgfn.pmo_metric import PUBLISHED


def test_the_preset_covers_every_pmo_oracle_and_each_is_a_task():
    from molgfn.tasks import registry

    from molgfn.chem.pmo import ORACLES

    assert set(PUBLISHED) == set(ORACLES)
    preset = B.PRESETS["pmo"]
    assert preset.max_oracle_calls == 10_000 and preset.methods == ["design"] and len(preset.seeds) >= 3
    assert set(preset.tasks) <= set(registry()) and len(preset.tasks) == 20
    # the sums of the printed rows over these 20 tasks (the 7.45 and 11.60 used the PMO values
    # rounded instead of cut off: 20 of them 0.001 higher)
    assert [round(sum(v[i] for v in PUBLISHED.values()), 3) for i in range(3)] == [7.440, 11.591, 13.594]


def test_budgeted_grid_jobs_get_rounds_from_the_budget():
    jobs = B.grid_jobs(B.PRESETS["pmo"], ["pmo-qed"], None, [0], None, max_oracle_calls=100)
    assert jobs == [("pmo-qed", "design", 0, 10 * math.ceil(100 / 32))]  # budget.default_rounds at batch 32
    assert B.grid_jobs(B.PRESETS["pmo"], ["pmo-qed"], None, [0], 7, max_oracle_calls=100)[0][3] == 7


def test_a_budgeted_run_stops_at_the_budget_with_pmo_metrics_and_a_final_curve_point():
    from molgfn.tasks import get_task

    opts = {"oracle": "tests.oracles:gc_content", "length": 8}
    curve, final = B.run_one("custom", "design", 0, 200, 16, eval_every=10, task_options=opts,
                             make_task=get_task, max_oracle_calls=70)
    assert final["pmo_oracle_calls"] == 70 and final["rounds"] < 200
    assert 0 < final["auc_top10"] <= 1
    assert curve and curve[-1]["round"] == final["rounds"]  # the budget ended it between evaluations
    # the design recipe of the task was used (custom: Logit-GFN + LS, molgfn.task.DESIGN_DEFAULTS)
    assert "is_log_z_error" in final


def test_pmo_table_means_seeds_and_sums_published_rows():
    finals = pd.DataFrame([
        {"task": "pmo-qed", "method": "design", "seed": s, "auc_top10": v, "reward_calls": 100, "wall_s": 5.0,
         "is_log_z_error": -0.5, "is_ess": 100.0} for s, v in enumerate([0.8, 0.9, 1.0])
    ] + [{"task": "pmo-median1", "method": "design", "seed": 0, "auc_top10": 0.2, "reward_calls": 100,
          "wall_s": 5.0, "is_log_z_error": -1.0, "is_ess": 10.0}])
    md = B.pmo_markdown(finals)
    assert "| pmo-qed | design | 100 | 0.900 +- 0.100 [0.800, 0.900, 1.000] | 0.921 | 0.941 | 0.942 |" in md
    # sums over the tasks run: ours 0.9 + 0.2; published qed + median1
    assert "**1.10**" in md and f"**{0.921 + 0.202:.2f}**" in md and f"**{0.942 + 0.379:.2f}**" in md
    assert B.pmo_markdown(finals.assign(task="tfbind8")) == ""


@pytest.mark.parametrize("calls", [0, -3])
def test_cli_refuses_a_budget_below_one(calls, tmp_path):
    from typer.testing import CliRunner

    import cli

    r = CliRunner().invoke(cli.app, ["bench", "--preset", "pmo", "--tasks", "pmo-qed", "--max-oracle-calls",
                                     str(calls), "--out", str(tmp_path / "b")])
    assert r.exit_code == 2


@pytest.mark.parametrize("workers", ["0", "-1", "1000000000000", "257"])
def test_bench_workers_are_bounded(workers, tmp_path):
    # each parallel run is a process with its own torch: 1e12 used to start every run of the grid at once
    from typer.testing import CliRunner

    import cli

    r = CliRunner().invoke(cli.app, ["bench", "--tasks", "pmo-qed", "--workers", workers, "--out", str(tmp_path / "b")])
    assert r.exit_code == 2 and "--workers" in r.output and not (tmp_path / "b").exists()
