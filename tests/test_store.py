"""The SQLite score store: round trip, hits are not re-called, kill -9 loses no stored score."""

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from molgfn.oracle import CachedOracle, Invalid, OracleSettings, Outcome, Scored, ScoreStore, read_store
from tests import oracle_faults as F

ROOT = Path(__file__).resolve().parents[1]


def test_round_trip_keeps_values_errors_and_keys_apart(tmp_path):
    db = tmp_path / "s.sqlite"
    a = ScoreStore(db, "gc", "v1")
    a.put([("ACGT", Outcome(0.5, None, 0.1)), ("AAAA", Outcome(None, "raised X", 0.2)),
           ("CCCC", Outcome(None, "no conformer", 0.3, invalid=True))])
    b = ScoreStore(db, "gc", "v1")  # a second connection sees committed rows
    got = b.get(["ACGT", "AAAA", "CCCC", "GGGG"])
    assert got["ACGT"] == Outcome(0.5, None, 0.1)
    assert got["AAAA"] == Outcome(None, "raised X", 0.2)
    assert got["CCCC"].invalid and got["CCCC"].error == "no conformer"
    assert "GGGG" not in got
    assert ScoreStore(db, "gc", "v2").get(["ACGT"]) == {}  # other settings: another oracle
    assert ScoreStore(db, "other", "v1").get(["ACGT"]) == {}
    assert sqlite3.connect(db).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    df = read_store(db)
    assert len(df) == 3 and set(df.columns) >= {"object", "oracle", "settings", "raw_score", "error", "wall_s",
                                                 "created"}


def test_many_keys_are_looked_up_in_parts(tmp_path):
    s = ScoreStore(tmp_path / "s.sqlite", "gc", "v")
    objs = [f"{i:05d}" for i in range(1234)]
    s.put((o, Outcome(float(i), None)) for i, o in enumerate(objs))
    got = s.get(objs)
    assert len(got) == 1234 and got["01000"].value == 1000.0 and len(s) == 1234


def test_stored_scores_are_not_recomputed(tmp_path, monkeypatch):
    log = tmp_path / "calls.txt"
    monkeypatch.setenv("ORACLE_LOG", str(log))
    settings = OracleSettings(executor="process", workers=2, store=tmp_path / "s.sqlite")
    first = CachedOracle("counting", F.counting, allow_negative=False, workers=2)
    first.configure(settings)
    a = first(["ACGT", "CCGG", "TTTT"])
    first.close()
    assert sorted(log.read_text().split()) == ["ACGT", "CCGG", "TTTT"]
    second = CachedOracle("counting", F.counting, allow_negative=False, workers=2)
    second.configure(settings)
    b = second(["TTTT", "ACGT", "GGGG", "CCGG"])
    second.close()
    assert sorted(log.read_text().split()) == ["ACGT", "CCGG", "GGGG", "TTTT"]  # only GGGG is new
    assert b.tolist() == [0.0, 0.5, 1.0, 1.0] and a.tolist() == [0.5, 1.0, 0.0]
    assert second.counts() == {"oracle_calls": 1, "store_hits": 3}
    other = CachedOracle("counting", F.counting, allow_negative=False, workers=1, version="receptor-2")
    other.configure(settings)
    other(["ACGT"])
    assert log.read_text().split().count("ACGT") == 2  # other settings hash: computed again


def declares_invalid(seqs):
    return [Invalid("cannot embed") if s.startswith("A") else F.gc(s) for s in seqs]


def test_invalid_objects_are_stored_with_their_reason_and_reused(tmp_path):
    settings = OracleSettings(executor="local", store=tmp_path / "s.sqlite")  # on_error=stop: Invalid is no error
    o = CachedOracle("inv", declares_invalid, allow_negative=False, invalid_value=0.01)
    o.configure(settings)
    assert o(["ACGT", "CCGG"]).tolist() == [0.01, 1.0]
    df = read_store(tmp_path / "s.sqlite").set_index("object")
    assert df.loc["ACGT", "error"] == "cannot embed" and df.loc["ACGT", "invalid"]
    assert pd.isna(df.loc["ACGT", "raw_score"]) and df.loc["CCGG", "raw_score"] == 1.0
    again = CachedOracle("inv", declares_invalid, allow_negative=False, invalid_value=0.01)
    again.configure(settings)
    assert again(["ACGT"]).tolist() == [0.01] and again.counts()["store_hits"] == 1


def scored_with_a_note(seqs):
    return [Scored(F.gc(s), f"made for {s}") if s.startswith("C") else F.gc(s) for s in seqs]


def test_what_an_oracle_makes_beside_a_score_is_stored_and_served_again(tmp_path):
    settings = OracleSettings(executor="process", workers=2, store=tmp_path / "s.sqlite")  # through a worker
    o = CachedOracle("noted", scored_with_a_note, allow_negative=False, workers=2)
    o.configure(settings)
    try:
        assert o(["CCGG", "ACGT", "CGTA"]).tolist() == [1.0, 0.5, 0.5]  # Scored's value is the score
    finally:
        o.close()
    assert o.extras_of(["CCGG", "ACGT", "CGTA"]) == {"CCGG": "made for CCGG", "CGTA": "made for CGTA"}
    df = read_store(tmp_path / "s.sqlite").set_index("object")
    assert df.loc["CCGG", "extra"] == "made for CCGG" and pd.isna(df.loc["ACGT", "extra"])
    again = CachedOracle("noted", scored_with_a_note, allow_negative=False, workers=1)
    again.configure(settings)
    assert again.extras_of(["CGTA", "TTTT"]) == {"CGTA": "made for CGTA"}  # from the store, nothing called
    assert again(["CCGG"]).tolist() == [1.0] and again.counts() == {"oracle_calls": 0, "store_hits": 1}
    assert again.extras == {"CCGG": "made for CCGG"}


def test_a_store_without_the_extra_column_gains_it(tmp_path):
    db = tmp_path / "old.sqlite"
    ScoreStore(db, "gc", "v1").put([("ACGT", Outcome(0.5, None, 0.1))])
    with sqlite3.connect(db) as con:
        con.execute("ALTER TABLE scores DROP COLUMN extra")  # as an older molgfn wrote it
    s = ScoreStore(db, "gc", "v1")
    assert s.get(["ACGT"])["ACGT"] == Outcome(0.5, None, 0.1)
    s.put([("CCGG", Outcome(1.0, None, 0.1, extra="pose"))])
    assert s.get(["CCGG"])["CCGG"].extra == "pose"


def test_scores_command_exports_csv_and_parquet(tmp_path):
    from typer.testing import CliRunner

    from cli import app

    s = ScoreStore(tmp_path / "scores.sqlite", "gc", "v")
    s.put([("ACGT", Outcome(0.5, None, 0.1)), ("AAAA", Outcome(None, "boom", 0.1))])
    r = CliRunner().invoke(app, ["scores", str(tmp_path), "--output", str(tmp_path / "x.csv")])
    assert r.exit_code == 0, r.output
    df = pd.read_csv(tmp_path / "x.csv").set_index("object")
    assert df.loc["ACGT", "raw_score"] == 0.5 and df.loc["AAAA", "error"] == "boom"
    r = CliRunner().invoke(app, ["scores", str(tmp_path / "scores.sqlite"), "--output", str(tmp_path / "x.parquet")])
    try:
        import pyarrow  # noqa: F401
    except ImportError:  # without the parquet extra: one line saying how to get it
        assert r.exit_code == 2 and "pip install 'molgfn[parquet]'" in " ".join(r.output.split())
    else:
        assert r.exit_code == 0, r.output
        assert pd.read_parquet(tmp_path / "x.parquet")["object"].tolist() == df.index.tolist()
    r = CliRunner().invoke(app, ["scores", str(tmp_path / "nope.sqlite")])
    assert r.exit_code == 2 and "does not exist" in r.output


def _stored(db: Path) -> dict[str, float]:
    con = sqlite3.connect(db)
    try:
        return dict(con.execute("SELECT object, raw_score FROM scores"))
    finally:
        con.close()


@pytest.mark.slow  # a real molgfn process killed with -9, then resumed
def test_kill_9_loses_no_stored_score_and_resume_reuses_them(tmp_path):
    """A real training process is killed with SIGKILL while it scores; the resumed run never
    calls the oracle again on an object that was stored before the kill."""
    log, run = tmp_path / "calls.txt", tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ORACLE_LOG": str(log)}
    args = ["train", "--task", "custom", "--oracle", "tests.oracle_faults:counting", "--length", 10, "--rounds", 40,
            "--batch-size", 16, "--checkpoint-every", 10, "--workers", 2, "--out", run, "--quiet", "--device", "cpu",
            "--seed", 1, "--hidden", 16, "--layers", 1, "--replay-size", 8, "--grad-steps", 1]
    cmd = [sys.executable, "-c", "from cli import app; app()", *map(str, args)]
    p = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 180
    while time.time() < deadline and not (run / "checkpoint.pt").exists():  # past the first checkpoint
        time.sleep(0.05)
    # then until two more rounds were sent to the oracle (a fixed sleep raced a loaded machine): these
    # scores are stored but not covered by the checkpoint, so the resumed run must reuse them
    n0 = len(log.read_text().split()) if log.exists() else 0
    while time.time() < deadline and len(log.read_text().split()) < n0 + 32:
        time.sleep(0.01)
    assert p.poll() is None, "the run ended before it could be killed: make it longer"
    os.kill(p.pid, signal.SIGKILL)
    p.wait(30)
    stored = _stored(run / "scores.sqlite")
    called_before = log.read_text().split()
    assert len(stored) > 0 and set(stored) <= set(called_before)
    assert all(v == pytest.approx(F.gc(k)) for k, v in stored.items())
    r = subprocess.run([*cmd, "--resume"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    called_after = log.read_text().split()[len(called_before):]
    assert not set(called_after) & set(stored), "a stored score was computed again"
    final = _stored(run / "scores.sqlite")
    assert set(stored) <= set(final) and all(final[k] == stored[k] for k in stored)
    metrics = pd.read_csv(run / "metrics.csv")
    assert metrics["round"].iloc[-1] == 40 and metrics["store_hits"].iloc[-1] > 0


def test_resume_keeps_the_runs_executor_and_score_store(tmp_path):
    """--executor/--workers/--score-store/... are stored in config.json: a resume without them scores
    into the same store (its hits keep counting, the run folder gets no second store); a flag given
    on resume overrides, as --workers does."""
    import json

    from typer.testing import CliRunner

    from cli import app

    def run(*args):
        return CliRunner().invoke(app, [str(a) for a in args])

    store, out = tmp_path / "shared.sqlite", tmp_path / "run"
    base = ["train", "--task", "custom", "--oracle", "tests.durable_oracles:gc", "--alphabet", "GA", "--length", 3,
            "--batch-size", 8, "--replay-size", 0, "--hidden", 8, "--quiet", "--device", "cpu", "--out", out]
    r = run(*base, "--rounds", 2, "--executor", "local", "--workers", 1, "--chunk-size", 3, "--oracle-retries", 2,
            "--on-oracle-error", "invalid", "--score-store", store)
    assert r.exit_code == 0, r.output
    first = json.loads((out / "config.json").read_text())["oracle_settings"]
    assert first == {"executor": "local", "workers": 1, "chunk_size": 3, "timeout": 600.0, "retries": 2,
                     "on_error": "invalid", "ray_address": None, "store": str(store.resolve()),
                     "reuse_across_versions": False}
    stored = _stored(store)
    assert 0 < len(stored) <= 8  # 2^3 objects

    r = run(*base, "--rounds", 5, "--resume")
    assert r.exit_code == 0, r.output
    assert not (out / "scores.sqlite").exists()  # the run's own store was not opened instead
    m = pd.read_csv(out / "metrics.csv")
    assert len(m) == 5
    # the resumed process's memo starts empty: its first lookups are hits in the same store, and
    # nothing stored before is scored again (new calls only for objects the store did not hold)
    assert m["store_hits"].iloc[-1] > m["store_hits"].iloc[1]
    assert m["oracle_calls"].iloc[-1] == len(_stored(store)) <= 8
    assert json.loads((out / "config.json").read_text())["oracle_settings"] == first

    other = tmp_path / "other.sqlite"
    r = run(*base, "--rounds", 6, "--resume", "--score-store", other, "--chunk-size", 5)
    assert r.exit_code == 0, r.output
    now = json.loads((out / "config.json").read_text())["oracle_settings"]
    assert now == {**first, "store": str(other.resolve()), "chunk_size": 5}  # the rest kept
    assert len(_stored(other)) > 0
