"""Run folders a user can trust: no data lost, no code run from a folder, every fault a clean stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from cli import app

from .conftest import real_or_synthetic

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()
GC = ["--task", "custom", "--oracle", "tests.durable_oracles:gc", "--length", 5, "--quiet", "--device", "cpu"]


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def one_line_error(r, *needles, code=2):
    assert r.exit_code == code, r.output
    assert "Traceback" not in r.output
    for n in needles:
        assert n in r.output, r.output


@pytest.fixture
def trained(tmp_path):
    out = tmp_path / "run"
    r = run("train", *GC, "--rounds", 3, "--checkpoint-every", 2, "--out", out)
    assert r.exit_code == 0, r.output
    return out


# ---- --overwrite, the lock, temp files --------------------------------------------------------------
def test_overwrite_never_deletes_a_folder_that_is_not_a_run(tmp_path):
    d = tmp_path / "work"
    (d / "thesis").mkdir(parents=True)
    (d / "notes.txt").write_text("years of work")
    (d / "thesis" / "ch1.tex").write_text("...")
    for extra in ([], ["--overwrite"], ["--resume"]):
        r = run("train", *GC, "--rounds", 1, "--out", d, *extra)
        one_line_error(r, "not a molgfn run")
    assert (d / "notes.txt").read_text() == "years of work" and (d / "thesis" / "ch1.tex").exists()
    assert sorted(p.name for p in d.iterdir()) == ["notes.txt", "thesis"]  # not even a lock file


def test_overwrite_of_a_run_removes_only_its_run_files(trained):
    (trained / "notes.txt").write_text("my notes on this run")
    (trained / "candidates.csv").write_text("rank,sequence\n")
    r = run("train", *GC, "--rounds", 2, "--out", trained, "--overwrite")
    assert r.exit_code == 0, r.output
    assert "kept 1 file(s)" in r.output and "notes.txt" in r.output
    assert (trained / "notes.txt").read_text() == "my notes on this run"
    assert not (trained / "candidates.csv").exists()  # the old run's output went with it
    assert len(pd.read_csv(trained / "metrics.csv")) == 2


def test_a_second_writer_is_refused_with_the_holders_pid(trained):
    code = ("import fcntl, os, sys, time\n"
            f"fd = os.open({str(trained / '.molgfn.lock')!r}, os.O_RDWR)\n"
            "fcntl.flock(fd, fcntl.LOCK_EX); os.ftruncate(fd, 0); os.write(fd, str(os.getpid()).encode())\n"
            "print('locked', flush=True); time.sleep(60)\n")
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        before = (trained / "checkpoint.pt").read_bytes()
        for extra in (["--resume"], ["--overwrite"]):
            r = run("train", *GC, "--rounds", 5, "--out", trained, *extra)
            one_line_error(r, f"PID {holder.pid}", "in use")
        assert (trained / "checkpoint.pt").read_bytes() == before
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.slow
def test_two_train_processes_on_one_folder(tmp_path):
    out = tmp_path / "run"
    gate = tmp_path / "gate"  # the first run's oracle waits while it exists: it is still running, however
    gate.touch()              # slowly the second process starts on a loaded machine
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "MOLGFN_TEST_GATE": str(gate)}
    cmd = [sys.executable, str(ROOT / "cli.py"), "train", *map(str, GC), "--rounds", 40, "--out", str(out)]
    cmd = [str(c) for c in cmd]
    cmd[cmd.index("tests.durable_oracles:gc")] = "tests.durable_oracles:gated_gc"
    first = subprocess.Popen(cmd, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    try:
        t0 = time.time()
        while not (out / "config.json").exists() and time.time() - t0 < 60:  # written once the folder is locked
            time.sleep(0.05)
        second = subprocess.run(cmd[:-2] + ["--out", str(out), "--overwrite"], cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=120)
        assert second.returncode == 2 and f"PID {first.pid}" in second.stderr, second.stderr
        gate.unlink()
        assert first.wait(timeout=120) == 0
    finally:
        first.kill()
    assert len(pd.read_csv(out / "metrics.csv")) == 40


def test_stale_temp_files_of_interrupted_writes_are_cleaned(trained):
    ours = [".checkpoint.pt.molgfn.ab12cd34.tmp", ".checkpoint.pt.k3j4h5g6.tmp", ".metrics.csv.molgfn.zz99yy88.tmp"]
    theirs = [".notes.txt.ab12cd34.tmp", ".checkpoint.pt.my-own-file.tmp", "checkpoint.pt.ab12cd34.tmp"]
    for n in ours + theirs:
        (trained / n).write_bytes(b"x" * 100)
    r = run("train", *GC, "--rounds", 4, "--out", trained, "--resume")
    assert r.exit_code == 0, r.output
    assert "removed 3 temp file(s)" in r.output
    left = {p.name for p in trained.iterdir()}
    assert not left & set(ours) and set(theirs) <= left


# ---- no code from a run folder -------------------------------------------------------------------
def test_loading_a_run_never_imports_the_oracle_it_names(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "helpers.py").write_text("def score(seqs):\n    return [s.count('G') / len(s) for s in seqs]\n")
    out = tmp_path / "run"
    r = run("design", "--task", "custom", "--oracle", "helpers:score", "--length", 4, "--rounds", 2, "--quiet",
            "--device", "cpu", "--num-samples", 10, "--out", out)
    assert r.exit_code == 0, r.output
    # a colleague's folder: helpers.py now does something else when imported
    sys.modules.pop("helpers", None)
    marker = tmp_path / "PWNED"
    (tmp_path / "helpers.py").write_text(f"open({str(marker)!r}, 'w').write('x')\n"
                                         "def score(seqs):\n    return [0.5] * len(seqs)\n")
    import importlib

    importlib.invalidate_caches()
    r = run("sample", out, "-n", 5)
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines()[0] == "sequence" and len(r.stdout.splitlines()) == 6
    one_line_error(run("evaluate", out, "-n", 10), "--oracle helpers:score", "--trust-oracle")
    one_line_error(run("train", "--task", "custom", "--length", 4, "--rounds", 3, "--out", out, "--resume",
                       "--quiet"), "--oracle helpers:score")
    assert run("info", out).exit_code == 0 and run("report", out).exit_code == 0
    assert not marker.exists()
    # named on the command line, it is the user's choice
    r = run("sample", out, "-n", 5, "--trust-oracle")
    assert r.exit_code == 0 and r.stdout.splitlines()[0] == "sequence,raw_score,reward"
    assert marker.exists()


# ---- clean stops -----------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_checkpoints_says_how_to_resume_and_resumes_exactly(tmp_path, sig, code):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    args = [str(a) for a in GC]
    args[args.index("tests.durable_oracles:gc")] = "tests.durable_oracles:slow_gc"
    base = [sys.executable, str(ROOT / "cli.py"), "train", *args, "--checkpoint-every", "1000"]
    stopped = tmp_path / "stopped"
    p = subprocess.Popen(base + ["--rounds", "100000", "--out", str(stopped)], cwd=ROOT, env=env,
                         stderr=subprocess.PIPE, text=True)
    t0 = time.time()
    while time.time() - t0 < 300:
        if (stopped / "metrics.csv").exists() and len((stopped / "metrics.csv").read_text().splitlines()) > 4:
            break
        time.sleep(0.02)
    p.send_signal(sig)
    err = p.communicate(timeout=300)[1]
    assert p.returncode == code, err
    assert "Traceback" not in err and f"molgfn train --out {stopped} --resume" in err
    done = torch.load(stopped / "checkpoint.pt", weights_only=True)["round"]
    assert done >= 4 and f"stopped after round {done} of 100000" in err
    total = str(done + 3)  # the same run without the interruption, to the same total
    full = tmp_path / "full"
    assert subprocess.run(base + ["--rounds", total, "--out", str(full)], cwd=ROOT, env=env,
                          capture_output=True).returncode == 0
    r = subprocess.run(base + ["--rounds", total, "--out", str(stopped), "--resume"], cwd=ROOT, env=env,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    # the store's counts depend on the process history (rounds after the last checkpoint come back
    # as store hits), the rest of every row is the same
    a, b = (pd.read_csv(d / "metrics.csv").drop(columns=["round_ms", "oracle_calls", "store_hits"], errors="ignore")
            for d in (full, stopped))
    pd.testing.assert_frame_equal(a, b)
    calls = pd.read_csv(stopped / "metrics.csv")
    if "oracle_calls" in calls:  # counted over the whole run, not restarted by the resume
        assert calls["oracle_calls"].is_monotonic_increasing
    assert (full / "seen.jsonl").read_bytes() == (stopped / "seen.jsonl").read_bytes()


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    from molgfn.tasks import get_task

    from molgfn.config import TrainConfig
    from molgfn.errors import TrainingDiverged
    from molgfn.trainer import Trainer

    opts = {"oracle": "tests.durable_oracles:gc", "length": 5}
    cfg = TrainConfig(task="custom", task_options=opts, rounds=6, checkpoint_every=2, device="cpu")
    tr = Trainer(cfg, get_task("custom", **opts), tmp_path)
    tr.train(rounds=2)
    good = (tmp_path / "checkpoint.pt").read_bytes()
    objective = tr.objective
    closed = []
    tr.task.close = lambda: closed.append(1)
    tr.objective = lambda s: (objective(s)[0] * float("nan"), {})
    with pytest.raises(TrainingDiverged, match="round 3: the loss became NaN/inf.*round 2"):
        tr.train()
    assert (tmp_path / "checkpoint.pt").read_bytes() == good and closed == [1]
    # weights that became non-finite are never checkpointed
    tr.objective = objective
    with torch.no_grad():
        next(tr.policy.parameters()).fill_(float("inf"))
    with pytest.raises(TrainingDiverged, match="weights"):
        tr.checkpoint()
    assert (tmp_path / "checkpoint.pt").read_bytes() == good


def test_an_oracle_error_closes_the_task_and_keeps_the_checkpoint(tmp_path):
    from molgfn.tasks import get_task

    from molgfn.config import TrainConfig
    from molgfn.errors import OracleError
    from molgfn.trainer import Trainer
    from tests import oracles

    oracles.CALLS.update(n=0, fail_after=3)
    opts = {"oracle": "tests.oracles:flaky", "length": 5}
    cfg = TrainConfig(task="custom", task_options=opts, rounds=6, checkpoint_every=2, device="cpu")
    tr = Trainer(cfg, get_task("custom", **opts), tmp_path)
    closed = []
    tr.task.close = lambda: closed.append(1)
    with pytest.raises(OracleError):
        tr.train()
    oracles.CALLS.update(fail_after=None)
    assert closed == [1] and torch.load(tmp_path / "checkpoint.pt", weights_only=True)["round"] == 2


def test_a_run_killed_before_its_first_checkpoint_gets_one_piece_of_advice(trained):
    (trained / "checkpoint.pt").unlink()
    for extra in ([], ["--resume"]):
        one_line_error(run("train", *GC, "--rounds", 3, "--out", trained, *extra),
                       "before its first checkpoint", "--overwrite")
    one_line_error(run("sample", trained), "before its first checkpoint", "--overwrite")
    r = run("train", *GC, "--rounds", 3, "--out", trained, "--overwrite")
    assert r.exit_code == 0, r.output


def test_resume_refuses_contradicting_options_and_applies_rounds(trained):
    for opt, val in (("--lr", 0.01), ("--hidden", 64), ("--objective", "db"), ("--seed", 5), ("--length", 6),
                     ("--batch-size", 16), ("--beta-dist", "fixed:2")):
        r = run("train", *GC, opt, val, "--out", trained, "--resume")
        one_line_error(r, opt, "contradict")
    r = run("train", "--task", "tfbind8", "--out", trained, "--resume", "--quiet")
    one_line_error(r, "--task tfbind8")
    r = run("train", *GC, "--lr", 0.001, "--rounds", 5, "--out", trained, "--resume")  # same value: fine
    assert r.exit_code == 0 and "--rounds 5 applied" in r.output and "trained 5 rounds" in r.output


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty", "evil", "not_ours"])
def test_a_damaged_checkpoint_is_one_line_naming_it(trained, damage):
    from tests.test_assets import Evil

    p = trained / "checkpoint.pt"
    data = p.read_bytes()
    if damage == "truncated":
        p.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        p.write_bytes(os.urandom(5000))
    elif damage == "empty":
        p.write_bytes(b"")
    elif damage == "evil":
        torch.save({"payload": Evil()}, p)
    else:
        torch.save({"round": 1, "weights": torch.zeros(3)}, p)
    for cmd in (["sample", trained], ["evaluate", trained, "--trust-oracle"],
                ["train", *GC, "--out", trained, "--resume"]):
        one_line_error(run(*cmd), str(p), "refused" if damage == "evil" else "backup")


@pytest.mark.parametrize("text", ["{not json", "", "[1, 2]", '{"task": 5}', '{"task": "custom", "lr": "fast"}',
                                  '{"task": "custom", "lr": NaN}', '{"task": "custom", "seed": -4}'])
def test_a_damaged_config_is_one_line_naming_it(trained, text):
    (trained / "config.json").write_text(text)
    for cmd in (["sample", trained], ["evaluate", trained], ["info", trained],
                ["train", *GC, "--out", trained, "--resume"]):
        one_line_error(run(*cmd), "config.json", "backup")


@pytest.mark.parametrize("damage", ["truncated", "garbage", "binary", "columns"])
def test_damaged_metrics_and_candidates_are_one_line_naming_them(trained, damage):
    m = trained / "metrics.csv"
    if damage == "truncated":
        m.write_bytes(m.read_bytes()[:30])
    elif damage == "garbage":
        m.write_text('round,loss\n1,"unterminated\n2,3,4,5\n')
    elif damage == "binary":
        m.write_bytes(os.urandom(300))
    else:
        m.write_text("a,b\nx,y\n")
    one_line_error(run("report", trained), "metrics.csv")
    one_line_error(run("train", *GC, "--rounds", 5, "--out", trained, "--resume"), "metrics.csv")
    if damage == "binary":
        one_line_error(run("info", trained), "metrics.csv")
    c = trained / "candidates.csv"
    m.unlink()
    c.write_bytes(os.urandom(200) if damage == "binary" else b"rank,sequence,raw_score,reward\n1,AC,high,x\n")
    one_line_error(run("report", trained), "candidates.csv", "molgfn design")


def test_out_at_or_under_a_file_is_one_line(tmp_path):
    f = tmp_path / "file.txt"
    f.write_text("x")
    one_line_error(run("train", *GC, "--rounds", 1, "--out", f), "is a file")
    one_line_error(run("train", *GC, "--rounds", 1, "--out", f / "run"), "cannot create --out")
    assert f.read_text() == "x"


def test_out_in_an_unwritable_folder_is_one_line(tmp_path):
    if os.geteuid() == 0:  # root writes into any folder a mode protects; sysfs refuses even root (EPERM)
        if not Path("/sys").is_dir():
            pytest.skip("running as root on a system without /sys: no folder root cannot write to")
        one_line_error(run("train", *GC, "--rounds", 1, "--out", "/sys/molgfn-test/run"), "cannot create --out")
        return
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        one_line_error(run("train", *GC, "--rounds", 1, "--out", ro / "run"), "cannot create --out")
    finally:
        ro.chmod(0o700)


def test_score_refuses_unreadable_input_and_unwritable_output(tmp_path):
    flags = ["score", "--task", "custom", "--oracle", "tests.durable_oracles:gc", "--length", 4]
    one_line_error(run(*flags, "--input", tmp_path), "is a folder")
    (tmp_path / "u16.txt").write_bytes("ACGT\nGGCC\n".encode("utf-16"))
    one_line_error(run(*flags, "--input", tmp_path / "u16.txt"), "not UTF-8")
    (tmp_path / "bin.txt").write_bytes(bytes(range(256)))
    one_line_error(run(*flags, "--input", tmp_path / "bin.txt"), "not UTF-8")
    (tmp_path / "ok.txt").write_text("ACGT\nGGCC\n")
    (tmp_path / "afile").write_text("x")
    one_line_error(run(*flags, "--input", tmp_path / "ok.txt", "--output", tmp_path / "afile" / "o.csv"),
                   "cannot write --output")
    one_line_error(run(*flags, "--input", tmp_path / "ok.txt", "--output", tmp_path), "cannot write --output")


def test_score_of_smiles_scores_the_rest_and_marks_bad_rows(tmp_path, request):
    real_or_synthetic(request, "seh-frag-blocks")
    import io

    f = tmp_path / "mols.smi"
    f.write_text("CCO\nC1CC(\nc1ccccc1O\n")
    r = run("score", "--task", "qed-frag", "--input", f)
    assert r.exit_code == 0, r.output
    df = pd.read_csv(io.StringIO(r.stdout), keep_default_na=False)
    assert df["input"].tolist() == ["CCO", "C1CC(", "c1ccccc1O"]
    assert df["valid"].tolist() == [True, False, True] and df["error"].iloc[1] == "unparsable SMILES"
    assert df["qed"].iloc[0] != "" and df["qed"].iloc[1] == "" and "row 2: 'C1CC('" in r.stderr


def test_data_import_with_a_wrong_checksum_exits_non_zero(tmp_path, monkeypatch):
    (tmp_path / "tfbind8").mkdir()
    (tmp_path / "tfbind8" / "SIX6_REF_R1_8mers.txt").write_text("8-mer\t8-mer\tE-score\nAAAAAAAA\tTTTTTTTT\t0.1\n")
    r = run("data", "import", tmp_path)
    one_line_error(r, "REFUSED", "refused")


def test_scores_all_below_the_floor_warn(tmp_path):
    out = tmp_path / "run"
    r = run("train", "--task", "custom", "--oracle", "tests.durable_oracles:zeros", "--length", 4, "--rounds", 2,
            "--quiet", "--device", "cpu", "--out", out)
    assert r.exit_code == 0, r.output
    assert r.output.count("warning:") == 1 and "reward floor 0.001" in r.output and "allow_negative" in r.output
    r = run("train", "--help")
    assert "allow_negative" in r.output and "floor" in r.output


def test_an_unexpected_exception_is_one_line_with_the_traceback_in_a_log(trained, monkeypatch, tmp_path):
    import molgfn.evaluation

    def boom(*a, **k):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(molgfn.evaluation, "evaluate_trainer", boom)
    r = run("evaluate", trained, "--trust-oracle", "-n", 5)
    one_line_error(r, "unexpected ZeroDivisionError: a bug", str(trained / "molgfn-error.log"), code=1)
    log = (trained / "molgfn-error.log").read_text()
    assert "Traceback" in log and "ZeroDivisionError: a bug" in log
    # no run folder: the log goes to the user cache
    import molgfn.commands.scoring

    monkeypatch.setattr(molgfn.commands.scoring, "_read_objects", boom)
    (tmp_path / "in.txt").write_text("ACGTA\n")
    r = run("score", "--task", "custom", "--oracle", "tests.durable_oracles:gc", "--length", 5, "--input",
            tmp_path / "in.txt")
    assert r.exit_code == 1 and "Traceback" not in r.output and "molgfn-error.log" in r.output
    assert Path(os.environ["XDG_CACHE_HOME"], "molgfn", "logs", "molgfn-error.log").exists()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.parametrize("fail", [False, True])
def test_a_signal_in_process_finishes_or_abandons_the_round(tmp_path, sig, fail):
    from molgfn.tasks import get_task

    from molgfn.config import TrainConfig
    from molgfn.errors import Interrupted
    from molgfn.trainer import Trainer
    from tests import durable_oracles as o

    o.STATE.update(calls=0, at=5, sig=sig, fail=fail)
    opts = {"oracle": "tests.durable_oracles:signal_at", "length": 5}
    cfg = TrainConfig(task="custom", task_options=opts, rounds=10, checkpoint_every=3, device="cpu")
    tr = Trainer(cfg, get_task("custom", **opts), tmp_path)
    closed = []
    tr.task.close = lambda: closed.append(1)
    before = signal.getsignal(sig)
    with pytest.raises(Interrupted) as e:
        tr.train()
    assert e.value.signum == sig and closed == [1] and signal.getsignal(sig) is before
    ckpt = torch.load(tmp_path / "checkpoint.pt", weights_only=True)["round"]
    if fail:  # the round broke: the last checkpoint (round 3) stands
        assert "round 5: that round was abandoned" in str(e.value) and ckpt == 3
    else:  # the round finished and was checkpointed at once
        assert "stopped after round 5 of 10" in str(e.value) and ckpt == 5
    again = Trainer(cfg, get_task("custom", oracle="tests.durable_oracles:gc", length=5), tmp_path)
    assert again.resume() and again.round == ckpt
