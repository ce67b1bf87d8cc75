"""Issue 17, the oracle part: vector oracles go through the executors, timeouts, error modes and
score store of scalar ones; every executor setting is checked however it was given; the store
key carries the oracle's code version; store errors are store errors; long chunks never
overflow a wait; a wrong-length reply is reported with its real counts; `score` works in chunks."""

import importlib
import sqlite3
import sys
from pathlib import Path

import numpy as np
import pytest

from molgfn.errors import InputError, Interrupted, OracleError
from molgfn.oracle import CachedOracle, OracleSettings, configure_task
from tests import durable_oracles as D
from tests import moo_oracles as M
from tests import oracle_faults as F

OBJS = ["CCGG", "ACGT", "GGCA", "TTTT"]  # the fault oracles fail on "ACGT" only


def vector_task(fn, executor="process", on_error="stop", store=None, **kw):
    from molgfn import FunctionTask

    task = FunctionTask(fn, alphabet="ACGT", length=4, objectives="gc,at")
    configure_task(task, OracleSettings(executor=executor, workers=1, timeout=0.25, on_error=on_error, store=store,
                                        **kw))
    return task


def children() -> set[int]:
    import os

    try:
        text = Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").read_text()
    except OSError:
        return set()
    return {int(p) for p in text.split()}


# -- 1. vector oracles through the executors ---------------------------------------------------------------
@pytest.mark.parametrize("fn,why", [(M.vec_sleepy, "timed out after 0.25 s"), (M.vec_exit0, "called sys.exit(0)"),
                                    (M.vec_segfault, "SIGSEGV")])
def test_a_failing_vector_oracle_stops_with_one_error_under_the_process_executor(fn, why):
    before = children()
    task = vector_task(fn)
    try:
        with pytest.raises(OracleError) as e:
            task.score_strings(OBJS)
        assert why in str(e.value) and "'ACGT'" in str(e.value) and "\n" not in str(e.value)
    finally:
        task.close()
    assert children() <= before  # the pool's workers are gone


@pytest.mark.parametrize("fn", [M.vec_sleepy, M.vec_segfault])
def test_a_failing_vector_oracle_gives_the_floor_with_on_oracle_error_invalid(fn):
    task = vector_task(fn, on_error="invalid")
    try:
        raw = task.score_strings(OBJS)
        Y = task.objective_vectors(OBJS)
    finally:
        task.close()
    ok = [0, 2, 3]
    assert raw[1] == pytest.approx(1e-3)  # the floor
    assert np.isnan(Y[1]).all()
    assert Y[ok].tolist() == M.gc_at([OBJS[i] for i in ok])
    assert raw[ok] == pytest.approx(np.mean(M.gc_at([OBJS[i] for i in ok]), axis=1))
    assert set(task.oracle.errors) == {"ACGT"}


def test_a_crashing_vector_oracle_on_ray_gives_the_floor():
    from tests.test_oracle_faults import ray_or_skip

    ray_or_skip()
    task = vector_task(M.vec_segfault, executor="ray", on_error="invalid")
    try:
        raw = task.score_strings(OBJS)
    finally:
        task.close()
    assert raw[1] == pytest.approx(1e-3) and "Ray worker died" in task.oracle.errors["ACGT"]
    assert raw[[0, 2, 3]] == pytest.approx(np.mean(M.gc_at([OBJS[i] for i in (0, 2, 3)]), axis=1))


def test_cli_train_with_a_sleeping_vector_oracle_ends_with_one_error(tmp_path):
    from typer.testing import CliRunner

    from cli import app

    args = ["train", "--task", "custom", "--oracle", "tests.moo_oracles:vec_sleepy", "--objectives", "gc,at",
            "--length", "4", "--alphabet", "AC", "--executor", "process", "--oracle-timeout", "0.2", "--rounds", "1",
            "--batch-size", "4", "--hidden", "8", "--quiet", "--device", "cpu", "--out", str(tmp_path / "R")]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 2, r.output
    assert "timed out after 0.2 s" in r.output and "vec_sleepy" in r.output


def test_vector_scores_are_stored_and_reused_under_new_weights(tmp_path):
    from molgfn import FunctionTask

    store = tmp_path / "s.sqlite"
    a = vector_task(M.gc_at, executor="local", store=store)
    first = a.objective_vectors(OBJS)
    assert a.oracle.counts() == {"oracle_calls": 4, "store_hits": 0}
    b = FunctionTask(M.gc_at, alphabet="ACGT", length=4, objectives="gc,at", weights="3,1")
    configure_task(b, OracleSettings(executor="local", store=store))
    assert b.objective_vectors(OBJS).tolist() == first.tolist()
    assert b.oracle.counts() == {"oracle_calls": 0, "store_hits": 4}
    assert b.score_strings(["CCGG"]).tolist() == pytest.approx([0.75])  # (3 * 1 + 1 * 0) / 4


# -- 2. every executor setting is checked, however it was given --------------------------------------------
@pytest.mark.parametrize("workers", [0, -1, 1.5, "x"])
def test_a_task_given_no_workers_is_refused_not_left_waiting(workers):
    from molgfn import FunctionTask

    with pytest.raises(InputError, match="workers must be a whole number"):
        FunctionTask(F.gc, workers=workers)
    with pytest.raises(InputError, match="workers must be a whole number"):
        CachedOracle("x", F.gc, allow_negative=False, workers=workers)


def test_cli_task_option_workers_0_is_refused(tmp_path):
    from typer.testing import CliRunner

    from cli import app

    r = CliRunner().invoke(app, ["train", "--task", "custom", "--oracle", "tests.durable_oracles:gc", "--length", "3",
                                 "--task-option", "workers=0", "--rounds", "1", "--out", str(tmp_path / "R")])
    assert r.exit_code == 2 and "workers must be a whole number in [1, 4096], got 0" in r.output, r.output


def test_a_process_pool_without_workers_is_refused():
    from molgfn.oracle.executors import ProcessExecutor

    with pytest.raises(InputError):
        ProcessExecutor(F.gc, workers=0)


# -- 3. the store key carries the oracle's code version ---------------------------------------------------
ORACLE_V1 = "def score(seqs):\n    return [s.count('G') / len(s) for s in seqs]\n"
ORACLE_V2 = "def score(seqs):\n    return [s.count('C') / len(s) for s in seqs]\n"


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    """A user's oracle module in a folder of its own (tmp_path/mods/user_oracle_*.py)."""
    folder = tmp_path / "mods"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    name = f"user_oracle_{abs(hash(str(tmp_path))) % 10**8}"
    path = folder / f"{name}.py"
    yield name, path
    sys.modules.pop(name, None)


def scored(name, store, **kw):
    mod = importlib.import_module(name)
    mod = importlib.reload(mod)
    o = CachedOracle("user:score", mod.score, allow_negative=False, workers=1)
    o.configure(OracleSettings(executor="local", store=store, **kw))
    return o(["GGGC", "CCCG"]).tolist(), o.counts()


def test_an_edited_oracle_is_scored_again_not_served_old_scores(tmp_path, user_module):
    name, path = user_module
    store = tmp_path / "s.sqlite"
    path.write_text(ORACLE_V1)
    assert scored(name, store) == ([0.75, 0.25], {"oracle_calls": 2, "store_hits": 0})
    assert scored(name, store) == ([0.75, 0.25], {"oracle_calls": 0, "store_hits": 2})  # same code: reused
    path.write_text(ORACLE_V2)
    assert scored(name, store) == ([0.25, 0.75], {"oracle_calls": 2, "store_hits": 0})  # edited: new scores
    # the user says the edit does not change scores: the stored ones (this version's first) are reused
    path.write_text(ORACLE_V2 + "# a comment\n")
    assert scored(name, store, reuse_across_versions=True) == ([0.25, 0.75], {"oracle_calls": 0, "store_hits": 2})


def test_cli_score_after_editing_the_oracle_gives_the_new_scores(tmp_path, user_module):
    import pandas as pd
    from typer.testing import CliRunner

    from cli import app

    name, path = user_module
    inp, store = tmp_path / "in.txt", tmp_path / "s.sqlite"
    inp.write_text("GGGC\nCCCG\n")

    def score(*flags):
        sys.modules.pop(name, None)  # a new `molgfn score` process imports the module afresh
        out = tmp_path / "out.csv"
        r = CliRunner().invoke(app, ["score", "--task", "custom", "--oracle", f"{name}:score", "--length", "4",
                                     "--executor", "local", "--score-store", str(store), "--input", str(inp),
                                     "-o", str(out), *flags])
        assert r.exit_code == 0, r.output
        return pd.read_csv(out)["raw_score"].tolist()

    path.write_text(ORACLE_V1)
    assert score() == [0.75, 0.25]
    path.write_text(ORACLE_V2)
    assert score() == [0.25, 0.75]
    # --stale-scores-ok: the user vouches that the edit changes nothing; the newest stored rows are served
    path.write_text("# a third version\n" + ORACLE_V1)
    assert score("--stale-scores-ok") == [0.25, 0.75]
    assert score() == [0.75, 0.25]


def test_a_version_given_by_the_author_names_the_code(tmp_path, user_module):
    name, path = user_module
    store = tmp_path / "s.sqlite"
    path.write_text("ORACLE_VERSION = '1'\n" + ORACLE_V1)
    assert scored(name, store)[1] == {"oracle_calls": 2, "store_hits": 0}
    path.write_text("ORACLE_VERSION = '1'\n# edited, same scores\n" + ORACLE_V1)
    assert scored(name, store)[1] == {"oracle_calls": 0, "store_hits": 2}
    path.write_text("ORACLE_VERSION = '2'\n" + ORACLE_V2)
    assert scored(name, store) == ([0.25, 0.75], {"oracle_calls": 2, "store_hits": 0})


def test_a_store_of_the_previous_version_is_read_as_another_code_version(tmp_path):
    """The previous store format: no objectives column, settings = the 16-hex hash of name and version."""
    import hashlib

    store = tmp_path / "old.sqlite"
    db = sqlite3.connect(store)
    db.execute("CREATE TABLE scores (object TEXT NOT NULL, oracle TEXT NOT NULL, settings TEXT NOT NULL, "
               "raw_score REAL, error TEXT, invalid INTEGER NOT NULL DEFAULT 0, wall_s REAL, created REAL NOT NULL, "
               "PRIMARY KEY (object, oracle, settings)) WITHOUT ROWID")
    old = hashlib.sha256(b"gc\0").hexdigest()[:16]
    db.execute("INSERT INTO scores VALUES ('CCGG', 'gc', ?, 0.123, NULL, 0, 0.1, 1.0)", (old,))
    db.commit()
    db.close()
    o = CachedOracle("gc", D.gc, allow_negative=False, workers=1)
    o.configure(OracleSettings(executor="local", store=store))
    assert o(["CCGG"]).tolist() == [1.0] and o.counts()["store_hits"] == 0  # not silently reused
    o = CachedOracle("gc", D.gc, allow_negative=False, workers=1)
    o.configure(OracleSettings(executor="local", store=store, reuse_across_versions=True))
    assert o(["CCGG"]).tolist() == [1.0] and o.counts()["store_hits"] == 1  # this version's row comes first
    o = CachedOracle("gc", D.gc, allow_negative=False, workers=1)
    o.configure(OracleSettings(executor="local", store=tmp_path / "old.sqlite", reuse_across_versions=True))
    assert o(["CCGG", "GGGG"]).tolist() == [1.0, 1.0]
    from molgfn.oracle import read_store

    df = read_store(store)
    assert set(df["settings"]) >= {old} and "objectives" in df.columns


# -- 4. a store error is a store error --------------------------------------------------------------------
def test_a_locked_store_is_a_store_error_not_the_oracles(tmp_path, monkeypatch):
    from molgfn import FunctionTask
    from molgfn.oracle import store as S

    monkeypatch.setattr(S, "LOCK_TIMEOUT_S", 0.05)
    path = tmp_path / "s.sqlite"
    task = FunctionTask(D.gc, alphabet="ACGT", length=4)
    configure_task(task, OracleSettings(executor="local", store=path))
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process writing the store
    try:
        with pytest.raises(S.ScoreStoreError) as e:
            task.score_strings(["CCGG"])
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    msg = str(e.value)
    assert str(path) in msg and "another process holds it" in msg and "raised" not in msg and "\n" not in msg


def test_an_interrupt_while_scoring_is_not_blamed_on_the_oracle():
    from molgfn.oracle import call_oracle

    def stopped(objs):
        raise Interrupted(15, "SIGTERM received: stopped")

    with pytest.raises(Interrupted):
        call_oracle("custom", stopped, ["CCGG"], False)


@pytest.mark.parametrize("on_error", ["stop", "invalid"])
def test_sigterm_while_an_in_process_oracle_runs_stops_the_run(on_error):
    o = CachedOracle("term", F.sigterm_inside, allow_negative=False, workers=1)
    o.configure(OracleSettings(executor="local", on_error=on_error))
    with pytest.raises(Interrupted):
        o(["CCGG"])


# -- 5. long chunks never overflow a wait; `score` works in chunks --------------------------------------
def test_a_long_chunk_deadline_does_not_overflow_the_wait():
    # 3 objects x 1e6 s: a 3e9 ms deadline, past poll()'s C int
    o = CachedOracle("gc", D.gc, allow_negative=False, workers=1)
    o.configure(OracleSettings(executor="process", workers=1, timeout=1e6))
    try:
        assert o(["CCGG", "GGCA", "TTTT"]).tolist() == [1.0, 0.75, 0.0]
    finally:
        o.close()


def test_score_streams_a_file_in_chunks_with_progress_on_stderr(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    import molgfn.scorefile
    from cli import app

    monkeypatch.setattr(molgfn.scorefile, "CHUNK", 3)
    seqs = ["CCGG", "GGCA", "TTTT", "ACGT", "GCGC", "AAAA", "CGCG", "TATA"]
    inp = tmp_path / "in.txt"
    inp.write_text("\n".join(seqs) + "\n")
    out = tmp_path / "out.csv"
    r = CliRunner().invoke(app, ["score", "--task", "custom", "--oracle", "tests.durable_oracles:gc", "--length", "4",
                                 "--executor", "process", "--workers", "1", "--input", str(inp), "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert "scored 3/8 objects" in r.output and "scored 8/8 objects" in r.output
    import pandas as pd

    df = pd.read_csv(out)
    assert df["sequence"].tolist() == seqs
    assert df["raw_score"].tolist() == pytest.approx([max(F.gc(s), 0.0) for s in seqs])


# -- 6. a wrong-length reply, with its real counts ------------------------------------------------------
def test_a_wrong_length_reply_is_reported_with_its_real_counts_after_retries():
    o = CachedOracle("short", F.one_short, allow_negative=False, workers=1)
    o.configure(OracleSettings(executor="process", workers=1, retries=1, timeout=5))
    try:
        with pytest.raises(OracleError, match="returned 3 values for 4 objects"):
            o(OBJS)
    finally:
        o.close()
