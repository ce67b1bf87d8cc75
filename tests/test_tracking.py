"""Watching a run: plain progress lines in a log, TensorBoard event files, an MLflow run,
and config.json's provenance — each read back with the tool a user would use."""

import io
import json
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from cli import app
from molgfn.tracking import PlainProgress, make_progress

runner = CliRunner()
CUSTOM = ["--task", "custom", "--oracle", "tests.oracles:gc_content", "--alphabet", "ACGT", "--length", "6",
          "--batch-size", "8", "--replay-size", "8", "--hidden", "16", "--device", "cpu", "--workers", "1"]


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def _row(r):
    return {"round": r, "loss": 1.5, "log_z": 0.25, "best_raw": 0.75, "modes": 0, "reward_calls": 8 * r,
            "round_ms": 12.0}


def test_plain_progress_prints_every_n_rounds_and_the_last():
    buf = io.StringIO()
    p = PlainProgress(total=10, every=4, stream=buf)
    for r in range(1, 11):
        p.update(_row(r))
    lines = buf.getvalue().splitlines()
    assert [ln.split()[1] for ln in lines] == ["4/10", "8/10", "10/10"]
    assert "loss 1.5" in lines[0] and "calls 32" in lines[0] and "eta" in lines[0]


def test_auto_progress_is_plain_when_not_a_terminal():
    from rich.console import Console

    buf = io.StringIO()
    assert isinstance(make_progress("auto", 100, console=Console(file=buf, force_terminal=False)), PlainProgress)
    assert not isinstance(make_progress("auto", 100, console=Console(file=buf, force_terminal=True)),
                          PlainProgress)


def test_training_in_a_log_file_writes_plain_lines(tmp_path):
    # CliRunner's output is not a terminal: the progress must be plain lines, not a bar
    r = run("train", *CUSTOM, "--rounds", 6, "--log-every", 2, "--out", tmp_path / "r")
    assert r.exit_code == 0, r.output
    lines = [ln for ln in r.output.splitlines() if ln.startswith("round ")]
    assert [ln.split()[1] for ln in lines] == ["2/6", "4/6", "6/6"]
    assert "\r" not in r.output and "\x1b[" not in r.output


def test_unknown_logger_is_refused_before_training(tmp_path):
    r = run("train", *CUSTOM, "--rounds", 2, "--logger", "wandb", "--out", tmp_path / "r")
    text = " ".join(r.output.translate({ord(c): " " for c in "│╭╮╰╯─"}).split())
    assert r.exit_code == 2 and "--logger must be tensorboard or mlflow, got 'wandb'" in text
    assert not (tmp_path / "r").exists()


def test_tensorboard_event_files_hold_every_round(tmp_path):
    pytest.importorskip("tensorboard", reason="pip install 'molgfn[tensorboard]'")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    r = run("train", *CUSTOM, "--rounds", 5, "--logger", "tensorboard", "--out", tmp_path / "r")
    assert r.exit_code == 0, r.output
    acc = EventAccumulator(str(tmp_path / "r" / "tensorboard"))
    acc.Reload()
    assert {"loss", "log_z", "best_raw", "reward_calls"} <= set(acc.Tags()["scalars"])
    metrics = pd.read_csv(tmp_path / "r" / "metrics.csv")
    loss = acc.Scalars("loss")
    assert [e.step for e in loss] == [1, 2, 3, 4, 5]
    assert [e.value for e in loss] == pytest.approx(metrics["loss"].tolist(), rel=1e-6)
    assert [e.value for e in acc.Scalars("reward_calls")] == [8, 16, 24, 32, 40]


def test_mlflow_run_holds_params_and_metric_history(tmp_path, monkeypatch):
    pytest.importorskip("mlflow", reason="pip install 'molgfn[mlflow]'")
    from mlflow.tracking import MlflowClient

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    out = tmp_path / "r"
    r = run("train", *CUSTOM, "--rounds", 4, "--logger", "mlflow", "--out", out)
    assert r.exit_code == 0, r.output
    client = MlflowClient(tracking_uri=(out / "mlruns").resolve().as_uri())
    run_id = (out / "mlflow_run_id").read_text().strip()
    got = client.get_run(run_id)
    assert got.info.status == "FINISHED"
    assert got.data.params["options.logger"] == "['mlflow']"  # a choice recorded as its value
    assert got.data.params["batch_size"] == "8" and got.data.params["task"] == "custom"
    assert got.data.params["options.rounds"] == "4"
    hist = client.get_metric_history(run_id, "reward_calls")
    assert sorted((m.step, m.value) for m in hist) == [(1, 8.0), (2, 16.0), (3, 24.0), (4, 32.0)]
    # a resumed run continues the same MLflow run
    r = run("train", *CUSTOM, "--rounds", 6, "--resume", "--logger", "mlflow", "--out", out)
    assert r.exit_code == 0, r.output
    assert (out / "mlflow_run_id").read_text().strip() == run_id
    steps = sorted(m.step for m in client.get_metric_history(run_id, "loss"))
    assert steps == [1, 2, 3, 4, 5, 6]


def test_config_json_records_options_command_versions_and_commit(tmp_path, monkeypatch):
    import sys

    import rdkit
    import torch
    import torch_geometric

    out = tmp_path / "r"
    args = ["design", *CUSTOM, "--rounds", "2", "--num-candidates", "7", "--min-distance", "2", "--out", str(out)]
    monkeypatch.setattr(sys, "argv", ["molgfn", *args])  # what the console script sees
    r = run(*args)
    assert r.exit_code == 0, r.output
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["batch_size"] == 8 and cfg["task"] == "custom"  # the TrainConfig fields, as before
    assert cfg["options"]["num_candidates"] == 7 and cfg["options"]["min_distance"] == 2  # design options
    assert cfg["options"]["oracle"] == "tests.oracles:gc_content"
    assert cfg["command"] == ["molgfn", *args]
    sw = cfg["software"]
    assert sw["torch"] == torch.__version__ and sw["rdkit"] == rdkit.__version__
    assert sw["torch_geometric"] == torch_geometric.__version__
    from molgfn import __version__

    assert sw["molgfn"] == __version__
    root = Path(__file__).resolve().parents[1]
    if (root / ".git").exists():
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True)
        if head.returncode == 0:
            assert sw["git"]["commit"] == head.stdout.strip()
    assert cfg["machine"]["device"] == "cpu"
    # a resume keeps the first command and logs the new start
    args2 = ["train", *CUSTOM, "--rounds", "3", "--resume", "--out", str(out)]
    monkeypatch.setattr(sys, "argv", ["molgfn", *args2])
    r = run(*args2)
    assert r.exit_code == 0, r.output
    cfg2 = json.loads((out / "config.json").read_text())
    assert cfg2["command"] == cfg["command"] and len(cfg2["resumed"]) == 1
    assert "--resume" in cfg2["resumed"][0]["command"]


def test_a_bad_mlflow_tracking_uri_is_a_clear_error(tmp_path, monkeypatch):
    pytest.importorskip("mlflow", reason="pip install 'molgfn[mlflow]'")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "nosuchscheme://nowhere")
    r = run("train", *CUSTOM, "--rounds", 2, "--logger", "mlflow", "--out", tmp_path / "r")
    assert r.exit_code == 2
    text = " ".join(r.output.split())
    assert "--logger mlflow cannot use the tracking store 'nosuchscheme://nowhere'" in text
    assert "Traceback" not in r.output
    # nothing written but the folder's lock and its (empty) score store: the same command can simply run again
    assert {p.name for p in (tmp_path / "r").iterdir()} <= {".molgfn.lock", "scores.sqlite"}
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    r = run("train", *CUSTOM, "--rounds", 2, "--out", tmp_path / "r")
    assert r.exit_code == 0, r.output
