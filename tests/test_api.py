"""The library API: the README's example, run as written, and the verbs around it."""

import contextlib
import io
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import molgfn
from molgfn import FunctionTask, InputError, design, load_run, sample, train

README = Path(__file__).resolve().parents[1] / "README.md"


def gc(s: str) -> float:
    return sum(c in "GC" for c in s) / len(s)


def readme_example() -> str:
    text = README.read_text()
    section = text.split("## Python API", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_readme_example_runs_as_written_and_returns_a_dataframe():
    ns: dict = {}
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        exec(compile(readme_example(), "README.md", "exec"), ns)
    df = ns["df"]
    assert isinstance(df, pd.DataFrame)
    assert list(df.columns[:6]) == ["rank", "sequence", "raw_score", "reward", "times_sampled", "first_round"]
    assert len(df) == 20 and df["rank"].tolist() == list(range(1, 21))
    assert df["sequence"].is_unique and (df["sequence"].str.len() == 10).all()
    # the scores are the user's function, recomputed here, and the rewards its 4th power
    assert df["raw_score"].tolist() == pytest.approx([gc(s) for s in df["sequence"]])
    assert df["reward"].tolist() == pytest.approx([max(gc(s), 1e-3) ** 4 for s in df["sequence"]])
    assert df["reward"].is_monotonic_decreasing
    # 1,000+ distinct 10-mers were scored: the best of them are GC-rich (uniform: 0.5 on average)
    assert df["raw_score"].iloc[0] >= 0.9 and df["raw_score"].mean() > 0.7
    assert "rank" in printed.getvalue()


def test_train_sample_and_load_run_with_a_lambda_oracle(tmp_path):
    task = FunctionTask(lambda seqs: [s.count("A") / len(s) for s in seqs], alphabet="AB", length=5)
    rows = []
    tr = train(task, tmp_path / "run", rounds=4, batch_size=8, replay_size=8, hidden=16, device="cpu",
               on_round=rows.append)
    assert [r["round"] for r in rows] == [1, 2, 3, 4] and tr.reward_calls == 32
    assert (tmp_path / "run" / "config.json").exists() and (tmp_path / "run" / "checkpoint.pt").exists()
    df = sample(tr, n=30)
    assert len(df) == 30 and set(df.columns) == {"sequence", "raw_score", "reward"}
    assert df["raw_score"].tolist() == pytest.approx([s.count("A") / 5 for s in df["sequence"]])
    again = load_run(tmp_path / "run", task, device="cpu")
    assert again.round == 4 and again.reward_calls == 32


def test_design_writes_the_run_directory_when_asked(tmp_path):
    task = FunctionTask(lambda seqs: [gc(s) for s in seqs], alphabet="ACGT", length=4)
    df = design(task, tmp_path / "r", rounds=2, batch_size=8, replay_size=0, hidden=8, device="cpu",
                conditioning="logit", beta_dist="uniform:1,3",
                num_candidates=5, num_samples=20, beta=[1, 2])
    assert sorted(set(df["beta"])) == [1.0, 2.0]
    back = pd.read_csv(tmp_path / "r" / "candidates.csv", dtype={"sequence": str})
    assert back["sequence"].tolist() == df["sequence"].tolist()


def test_bad_settings_are_named():
    task = FunctionTask(lambda seqs: [1.0] * len(seqs), alphabet="AB", length=3)
    with pytest.raises(InputError, match=r"'batchsize' \(did you mean batch_size"):
        design(task, batchsize=8)
    with pytest.raises(InputError, match="--rounds must be >= 0"):
        train(task, rounds=-1)
    with pytest.raises(InputError, match="alphabet must be distinct"):
        FunctionTask(len, alphabet="AA", length=3)
    with pytest.raises(InputError, match="expected a molgfn Task"):
        design("tfbind8")


def test_a_non_empty_directory_is_never_reused(tmp_path):
    (tmp_path / "mine.txt").write_text("keep me")
    task = FunctionTask(lambda seqs: [1.0] * len(seqs), alphabet="AB", length=3)
    with pytest.raises(InputError, match="not empty"):
        train(task, tmp_path, rounds=1)
    assert (tmp_path / "mine.txt").read_text() == "keep me"


def test_public_names_resolve():
    for name in molgfn.__all__:
        assert getattr(molgfn, name) is not None


def test_multi_objective_samples_carry_objectives_and_ranks():
    from molgfn.moo import pareto_rank
    from tests.moo_oracles import a_and_alternation

    task = FunctionTask(a_and_alternation, alphabet="AB", length=6, objectives=["a", "alt"])
    tr = train(task, rounds=2, batch_size=8, replay_size=0, hidden=8, device="cpu")
    df = sample(tr, n=40)
    Y = np.array(a_and_alternation(df["sequence"].tolist()))
    assert df["a"].tolist() == pytest.approx(Y[:, 0].tolist())
    assert df["pareto_rank"].tolist() == pareto_rank(Y).tolist()


# ---- the run folder through the API: the CLI's rules (molgfn.runs.prepare_run_dir) -------------
def _a_count(seqs):
    return [s.count("A") / len(s) for s in seqs]


@pytest.fixture
def released():
    from molgfn import runs

    yield
    runs.unlock_all()  # a run folder stays locked for the life of the process; let the next test see it free


def test_api_resume_overwrite_and_refusals_follow_the_cli_rules(tmp_path, released):
    from molgfn.errors import RunLockedError

    task = FunctionTask(_a_count, alphabet="AB", length=4)
    kw = dict(batch_size=4, replay_size=0, hidden=8, device="cpu")
    out = tmp_path / "run"
    with pytest.raises(InputError, match="resume=True: .* holds no run to continue"):
        train(task, out, rounds=1, resume=True, **kw)
    assert train(task, out, rounds=2, **kw).round == 2
    with pytest.raises(InputError, match="holds a run: pass resume=True to continue it, overwrite=True"):
        train(task, out, rounds=3, **kw)
    assert train(task, out, rounds=3, resume=True, **kw).round == 3  # continued from round 2
    assert len(pd.read_csv(out / "metrics.csv")) == 3

    (out / "notes.txt").write_text("mine")  # the user's file in a run folder, and a temp file of a killed write
    (out / ".checkpoint.pt.molgfn.ab12cd34.tmp").write_bytes(b"half")
    tr = train(task, out, rounds=1, overwrite=True, **kw)
    assert tr.round == 1 and len(pd.read_csv(out / "metrics.csv")) == 1  # started again
    assert (out / "notes.txt").read_text() == "mine" and not (out / ".checkpoint.pt.molgfn.ab12cd34.tmp").exists()

    (tmp_path / "afile").write_text("x")
    with pytest.raises(InputError, match="out .*afile is a file, not a folder"):
        train(task, tmp_path / "afile", rounds=1, **kw)
    with pytest.raises(InputError, match="overwrite=True needs the run directory"):
        train(task, rounds=1, overwrite=True, **kw)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "data.csv").write_text("a,b\n")
    with pytest.raises(InputError, match="not empty and is not a molgfn run"):
        train(task, mine, rounds=1, overwrite=True, **kw)  # overwrite never touches a folder that is not a run
    assert [p.name for p in mine.iterdir()] == ["data.csv"]

    # a second writer (another process holding the lock) is refused with its PID
    import subprocess
    import sys

    other = tmp_path / "other"
    other.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", "import sys; from molgfn.runs import lock_run_dir; "
                               f"lock_run_dir({str(other)!r}); print('locked', flush=True); sys.stdin.read()"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                              cwd=Path(__file__).resolve().parents[1])
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunLockedError, match=f"PID {holder.pid}"):
            train(task, other, rounds=1, **kw)
    finally:
        holder.communicate("", timeout=30)


def test_a_library_run_of_a_registered_task_resumes_and_samples_from_the_cli(tmp_path):
    """get_task's options (here a length other than the CLI's default) are recorded, so the CLI
    rebuilds the same task: before, the checkpoint did not fit a length-8 task."""
    from molgfn.tasks import get_task
    from typer.testing import CliRunner

    from cli import app

    task = get_task("custom", oracle="tests.oracles:gc_content", length=6, alphabet="ACGT")
    train(task, tmp_path / "run", rounds=3, batch_size=8, replay_size=0, hidden=16, n_layers=1, device="cpu")
    r = CliRunner().invoke(app, ["sample", str(tmp_path / "run"), "-n", "5", "--trust-oracle"])
    assert r.exit_code == 0, r.output
    rows = [line for line in r.output.splitlines()[1:] if line.strip()]
    assert len(rows) == 5 and all(len(line.split(",")[0]) == 6 for line in rows)
    r = CliRunner().invoke(app, ["train", "--out", str(tmp_path / "run"), "--resume", "--rounds", "5",
                                 "--trust-oracle", "--quiet"])
    assert r.exit_code == 0, r.output
