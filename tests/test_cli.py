"""The command line, end to end, as a user runs it."""

import io

import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from cli import app
from molgfn.errors import OracleError

from .conftest import real_or_synthetic

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_unknown_task_lists_known_ones():
    r = run("score", "--task", "nope", "--input", "x.txt")
    assert r.exit_code == 2
    assert "unknown task 'nope'" in r.output and "tfbind8" in r.output and "rna1" in r.output


def test_score_tfbind8_file_and_invalid_rows(tmp_path, request):
    kind = real_or_synthetic(request, "tfbind8-table")
    f = tmp_path / "in.txt"
    f.write_text("GATATCAA\nAAAAAAAA\n")
    r = run("score", "--task", "tfbind8", "--input", f)
    assert r.exit_code == 0, r.output
    lines = r.stdout.strip().splitlines()
    assert lines[0] == "sequence,raw_score,reward"
    if kind == "real":
        assert lines[1].startswith("GATATCAA,0.99")  # the best-scoring 8-mer of the published table
    else:  # min-max normalised E-score of what tests/synthetic.py wrote
        from .synthetic import tfbind8_scores

        e = tfbind8_scores()
        want = (e["GATATCAA"] - min(e.values())) / (max(e.values()) - min(e.values()))
        assert float(lines[1].split(",")[1]) == pytest.approx(want, abs=1e-9)
    bad = tmp_path / "bad.csv"
    bad.write_text("sequence,note\nGATATCAA,ok\nGATATCAN,typo\nGATA,short\n")
    r = run("score", "--task", "tfbind8", "--input", bad)
    assert r.exit_code == 0, r.output  # the rest of the file is scored; the bad rows are kept and marked
    assert "row 3: 'GATATCAN'" in r.stderr and "row 4: 'GATA'" in r.stderr
    df = pd.read_csv(io.StringIO(r.stdout), keep_default_na=False)
    assert df["sequence"].tolist() == ["GATATCAA", "GATATCAN", "GATA"]
    assert df["valid"].tolist() == [True, False, False] and df["error"].iloc[0] == ""
    assert "not 8 letters of ACGT" in df["error"].iloc[1] and df["raw_score"].iloc[1] == ""


def test_missing_asset_names_fetch_command(tmp_path, monkeypatch):
    monkeypatch.setenv("MOLGFN_DATA", str(tmp_path))
    f = tmp_path / "in.txt"
    f.write_text("GATATCAA\n")
    r = run("score", "--task", "tfbind8", "--input", f)
    assert r.exit_code == 2
    assert "molgfn data fetch tfbind8-table" in r.output


def test_checksum_mismatch_is_refused(tmp_path, monkeypatch):
    (tmp_path / "tfbind8").mkdir()
    (tmp_path / "tfbind8" / "SIX6_REF_R1_8mers.txt").write_text("8-mer\t8-mer\tE-score\nAAAAAAAA\tTTTTTTTT\t0.1\n")
    monkeypatch.setenv("MOLGFN_DATA", str(tmp_path))
    f = tmp_path / "in.txt"
    f.write_text("GATATCAA\n")
    r = run("score", "--task", "tfbind8", "--input", f)
    assert r.exit_code == 2 and "does not match its sha256" in r.output and "refusing" in r.output


@pytest.mark.parametrize("fn,msg", [
    ("returns_nan", "NaN/inf or negative scores for"),
    ("raises", "raised RuntimeError: docking server unreachable"),
    ("wrong_count", "returned 3 values for 2 objects"),
    ("negative", "-1.0"),
])
def test_bad_oracle_output_is_named(tmp_path, fn, msg):
    f = tmp_path / "in.txt"
    f.write_text("ACGT\nCCGG\n")
    r = run("score", "--task", "custom", "--oracle", f"tests.oracles:{fn}", "--length", 4, "--input", f)
    assert r.exit_code == 2, r.output
    assert f"tests.oracles:{fn}" in r.output and msg in r.output


def test_design_custom_oracle_writes_ranked_unique_candidates(tmp_path):
    out = tmp_path / "run"
    r = run("design", "--task", "custom", "--oracle", "tests.oracles:gc_content", "--length", 6,
            "--reward-exponent", 4, "--rounds", 30, "--num-samples", 200, "--num-candidates", 50,
            "--out", out, "--quiet", "--device", "cpu")
    assert r.exit_code == 0, r.output
    df = pd.read_csv(out / "candidates.csv", dtype={"sequence": str})
    assert list(df.columns) == ["rank", "sequence", "raw_score", "reward", "times_sampled", "first_round"]
    assert df["sequence"].is_unique and len(df) == 50
    assert df["rank"].tolist() == list(range(1, 51))
    assert df["reward"].is_monotonic_decreasing
    gc = df["sequence"].map(lambda s: sum(c in "GC" for c in s) / 6)
    assert (gc - df["raw_score"]).abs().max() < 1e-12
    assert df["raw_score"].iloc[0] == 1.0  # an all-GC sequence is easy to find
    assert (df["times_sampled"] >= 1).all() and df["first_round"].between(0, 30).all()
    for name in ("config.json", "metrics.csv", "checkpoint.pt"):
        assert (out / name).exists()
    # a non-empty run directory is not overwritten by accident
    r = run("train", "--task", "custom", "--oracle", "tests.oracles:gc_content", "--length", 6, "--rounds", 1,
            "--out", out, "--quiet")
    assert r.exit_code == 2 and "--resume" in r.output


def test_sample_from_trained_run(tmp_path):
    out = tmp_path / "run"
    r = run("train", "--task", "custom", "--oracle", "tests.oracles:gc_content", "--length", 5, "--rounds", 5,
            "--out", out, "--quiet")
    assert r.exit_code == 0, r.output
    r = run("sample", out, "-n", 7, "--oracle", "tests.oracles:gc_content")
    assert r.exit_code == 0, r.output
    lines = r.stdout.strip().splitlines()
    assert lines[0] == "sequence,raw_score,reward" and len(lines) == 8
    r = run("sample", out, "-n", 7)  # the run's oracle is not imported unless named again: samples, unscored
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines()[0] == "sequence" and "not scored" in r.stderr


def _trainer(tmp_path, rounds, checkpoint_every=5):
    from molgfn.tasks import get_task

    from molgfn.config import TrainConfig
    from molgfn.trainer import Trainer

    cfg = TrainConfig(task="custom", task_options={"oracle": "tests.oracles:flaky", "length": 6},
                      rounds=rounds, checkpoint_every=checkpoint_every, device="cpu", seed=3, local_search=True)
    return Trainer(cfg, get_task("custom", oracle="tests.oracles:flaky", length=6), tmp_path)


def test_resumed_run_continues_exactly_where_it_stopped(tmp_path):
    from tests import oracles

    oracles.CALLS.update(n=0, fail_after=None)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    full = _trainer(tmp_path / "a", 12)
    full.train()
    part = _trainer(tmp_path / "b", 6)
    part.train()
    resumed = _trainer(tmp_path / "b", 12)
    assert resumed.resume() and resumed.round == 6
    resumed.train()
    a = pd.DataFrame(full.metrics).drop(columns="round_ms")
    b = pd.DataFrame(resumed.metrics).drop(columns="round_ms")
    pd.testing.assert_frame_equal(a, b)
    for k, v in full.policy.state_dict().items():
        assert torch.equal(v, resumed.policy.state_dict()[k])


def test_failing_oracle_leaves_last_checkpoint_intact(tmp_path):
    from tests import oracles

    oracles.CALLS.update(n=0, fail_after=None)
    tr = _trainer(tmp_path, 10, checkpoint_every=5)
    tr.train(rounds=5)
    before = (tmp_path / "checkpoint.pt").read_bytes()
    metrics_before = (tmp_path / "metrics.csv").read_text()
    oracles.CALLS.update(fail_after=oracles.CALLS["n"] + 3)
    with pytest.raises(OracleError, match="oracle went away"):
        tr.train(rounds=10)
    assert (tmp_path / "checkpoint.pt").read_bytes() == before
    assert (tmp_path / "metrics.csv").read_text() == metrics_before
    oracles.CALLS.update(fail_after=None)
    again = _trainer(tmp_path, 10)
    assert again.resume() and again.round == 5
    again.train()
    assert again.round == 10


def test_evaluate_reports_exact_metrics(tmp_path, synthetic_data):
    import json

    from molgfn.tasks import get_task

    out = tmp_path / "run"
    r = run("train", "--task", "tfbind8", "--rounds", 10, "--out", out, "--quiet", "--device", "cpu")
    assert r.exit_code == 0, r.output
    r = run("evaluate", out, "-n", 300, "--top-k", 50)
    assert r.exit_code == 0, r.output
    res = json.loads((out / "evaluation.json").read_text())
    t = get_task("tfbind8")
    assert res["log_z_exact"] == pytest.approx(float(torch.logsumexp(t.log_reward(t.table), 0)), rel=1e-9)
    assert 0 < res["l1"] < 2 and res["top_k"] == 50 and res["reward_calls"] == 320
    assert res["modes_found"] <= res["num_modes"] == t.num_modes()
    assert 0 < res["top_k_diversity_levenshtein"] <= 8


def test_bench_writes_table_and_plot(tmp_path, synthetic_data):
    r = run("bench", "--tasks", "tfbind8", "--methods", "tb,logit", "--seeds", "0", "--rounds", 10,
            "--workers", 1, "--out", tmp_path)
    assert r.exit_code == 0, r.output
    df = pd.read_csv(tmp_path / "results.csv")
    assert set(df["method"]) == {"tb", "logit"} and (df["reward_calls"] == 320).all()
    assert "l1_beta3" in df.columns and (tmp_path / "tfbind8.png").stat().st_size > 1000
    assert "| tfbind8 | tb |" in (tmp_path / "results.md").read_text()


def test_design_diverse_list_respects_min_distance(tmp_path):
    from rapidfuzz.distance import Levenshtein

    out = tmp_path / "run"
    r = run("design", "--task", "custom", "--oracle", "tests.oracles:gc_content", "--length", 6,
            "--reward-exponent", 4, "--rounds", 20, "--num-candidates", 15, "--min-distance", 3,
            "--out", out, "--quiet", "--device", "cpu")
    assert r.exit_code == 0, r.output
    df = pd.read_csv(out / "candidates.csv", dtype={"sequence": str})
    seqs = df["sequence"].tolist()
    assert len(seqs) == 15
    assert all(Levenshtein.distance(a, b) >= 3 for i, a in enumerate(seqs) for b in seqs[i + 1 :])
    assert df["reward"].is_monotonic_decreasing


def test_cli_resume_continues_to_the_runs_own_total(tmp_path):
    out = tmp_path / "run"
    args = ["--task", "custom", "--oracle", "tests.oracles:gc_content", "--length", 5, "--quiet", "--device", "cpu"]
    r = run("train", *args, "--rounds", 4, "--checkpoint-every", 2, "--out", out)
    assert r.exit_code == 0, r.output
    r = run("train", *args, "--out", out, "--resume")
    assert r.exit_code == 0 and "resumed" in r.output and "trained 4 rounds" in r.output
    r = run("train", *args, "--rounds", 7, "--out", out, "--resume")
    assert r.exit_code == 0 and "trained 7 rounds, 224 reward calls" in r.output
    assert len(pd.read_csv(out / "metrics.csv")) == 7


def test_task_options_reach_the_task(tmp_path, synthetic_data):
    import json

    out = tmp_path / "run"
    r = run("train", "--task", "qm9str", "--task-option", "modes=diverse", "--rounds", 2, "--out", out,
            "--quiet", "--device", "cpu", "--hidden", 16)
    assert r.exit_code == 0, r.output
    assert json.loads((out / "config.json").read_text())["task_options"] == {"modes": "diverse"}
    r = run("train", "--task", "qm9str", "--task-option", "modes=everything", "--rounds", 1, "--out", out,
            "--overwrite", "--quiet")
    assert r.exit_code == 2 and "qm9str modes must be" in r.output
    r = run("train", "--task", "tfbind8", "--task-option", "nonsense", "--out", out, "--overwrite")
    assert r.exit_code == 2 and "KEY=VALUE" in r.output


def test_checkpoint_loading_runs_no_code(tmp_path):
    from molgfn.errors import RunFileError
    from tests.test_assets import Evil

    t = _trainer(tmp_path, 2)
    t.train()
    torch.save({"payload": Evil()}, tmp_path / "checkpoint.pt")
    with pytest.raises(RunFileError, match="refused"):
        _trainer(tmp_path, 2).resume()


def test_fragment_resume_keeps_molecule_columns(tmp_path, synthetic_data):
    out = tmp_path / "run"
    args = ["--task", "qed-frag", "--batch-size", 8, "--replay-size", 4, "--hidden", 16, "--quiet", "--device", "cpu",
            "--num-samples", 8, "--out", out]
    r = run("design", *args, "--rounds", 2)
    assert r.exit_code == 0, r.output
    r = run("design", *args, "--rounds", 3, "--resume")
    assert r.exit_code == 0, r.output
    df = pd.read_csv(out / "candidates.csv")
    assert df["num_blocks"].notna().all() and df["num_blocks"].between(1, 8).all()


def test_overwrite_keeps_the_old_run_when_the_new_one_is_invalid(tmp_path):
    out = tmp_path / "run"
    r = run("train", "--task", "custom", "--oracle", "tests.oracles:gc_content", "--length", 5, "--rounds", 2,
            "--out", out, "--quiet")
    assert r.exit_code == 0, r.output
    before = sorted(p.name for p in out.iterdir())
    for bad in (["--task", "tfbnd8"], ["--task", "custom", "--oracle", "tests.oracles:gc_content", "--batch-size", 0]):
        r = run("train", *bad, "--out", out, "--overwrite", "--quiet")
        assert r.exit_code == 2, r.output
        assert sorted(p.name for p in out.iterdir()) == before


def test_oracle_with_a_builtin_task_is_refused():
    r = run("train", "--task", "tfbind8", "--oracle", "tests.oracles:gc_content", "--rounds", 1)
    assert r.exit_code == 2 and "--task custom" in r.output
