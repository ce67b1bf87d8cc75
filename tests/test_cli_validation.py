"""Fuzzing the CLI's numeric options: every invalid value is refused with one line naming the option
(non-zero exit, no traceback) before anything is written."""

from __future__ import annotations

import math

import pytest
from typer.testing import CliRunner

from cli import app

hypothesis = pytest.importorskip("hypothesis", reason="pip install hypothesis (the dev extra)")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

runner = CliRunner()
GC = ["--task", "custom", "--oracle", "tests.durable_oracles:gc", "--length", "5", "--quiet", "--device", "cpu"]
NONFINITE = st.sampled_from([math.nan, math.inf, -math.inf])
NEG_INT = st.integers(max_value=-1) | st.just(-(2**70))
HUGE_INT = st.integers(min_value=2**32, max_value=2**80)


def below(lo: float):  # floats strictly below lo, or non-finite
    return NONFINITE | st.floats(max_value=lo, exclude_max=True, allow_nan=False, allow_infinity=False)


# option -> (command, the flag as the message names it, invalid values)
TRAIN = {
    "--lr": below(0) | st.just(0.0),
    "--lr-logz": below(0) | st.just(0.0),
    "--epsilon": below(0) | st.floats(min_value=1, exclude_min=True, allow_infinity=False),
    "--reward-exponent": below(0) | st.just(0.0) | st.floats(min_value=100, exclude_min=True),
    "--batch-size": st.integers(max_value=0) | st.integers(min_value=65_537, max_value=2**70),
    "--replay-size": NEG_INT | st.integers(min_value=65_537, max_value=2**70),
    "--grad-steps": st.integers(max_value=0) | HUGE_INT,
    "--hidden": st.integers(max_value=0) | HUGE_INT,
    "--layers": st.integers(max_value=0) | HUGE_INT,
    "--checkpoint-every": st.integers(max_value=0),
    "--rounds": NEG_INT | HUGE_INT,
    "--seed": NEG_INT | HUGE_INT,
    "--workers": st.integers(max_value=0) | HUGE_INT,
    "--length": st.integers(max_value=0) | HUGE_INT,
    "--beta-dist": st.sampled_from(["fixed:nan", "fixed:inf", "uniform:1,nan", "uniform:nan,2", "fixed:-1",
                                    "fixed:0", "uniform:3,1", "loguniform:0,1", "fixed:1e9", "fixed:", "gauss:1",
                                    "uniform:1,inf"]),
}
DESIGN = {
    "--num-samples": NEG_INT | HUGE_INT,
    "--num-candidates": st.integers(max_value=0) | HUGE_INT,
    "--min-distance": NEG_INT,
    "--max-similarity": below(0) | st.just(0.0) | st.floats(min_value=1, exclude_min=True),
    "--show": NEG_INT,
    "--beta": st.sampled_from(["nan", "inf", "0", "-1", "1,nan", "1e9", ","]),
}
RUN = {  # commands on a trained run
    ("sample", "-n"): st.integers(max_value=0),
    ("sample", "--seed"): NEG_INT | HUGE_INT,
    ("sample", "--beta"): below(0) | st.just(0.0) | st.just(math.inf),
    ("evaluate", "-n"): st.integers(max_value=0),
    ("evaluate", "--top-k"): st.integers(max_value=0),
    ("evaluate", "--seed"): NEG_INT | HUGE_INT,
    ("report", "--top"): st.integers(max_value=0),
}


def _fmt(v) -> str:
    return repr(v) if isinstance(v, float) else str(v)


def _check(r, flag: str) -> None:
    assert r.exit_code not in (0, None), r.output
    assert "Traceback" not in r.output
    assert "error" in r.output.lower() and flag in r.output, r.output


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("fuzz") / "run"
    r = runner.invoke(app, ["train", *GC, "--rounds", "2", "--out", str(out)])
    assert r.exit_code == 0, r.output
    return out


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=st.sampled_from(sorted(TRAIN)).flatmap(lambda o: TRAIN[o].map(lambda v: (o, v))),
       command=st.sampled_from(["train", "design"]))
def test_training_options_refuse_invalid_values(tmp_path, case, command):
    opt, v = case
    out = tmp_path / f"run-{abs(hash((opt, _fmt(v), command)))}"
    rounds = [] if opt == "--rounds" else ["--rounds", "1"]
    r = runner.invoke(app, [command, *GC, *rounds, opt, _fmt(v), "--out", str(out)])
    _check(r, opt)
    assert not out.exists()  # refused before anything was written


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=st.sampled_from(sorted(DESIGN)).flatmap(lambda o: DESIGN[o].map(lambda v: (o, v))))
def test_design_options_refuse_invalid_values(tmp_path, case):
    opt, v = case
    out = tmp_path / f"run-{abs(hash((opt, _fmt(v))))}"
    r = runner.invoke(app, ["design", *GC, "--rounds", "1", opt, _fmt(v), "--out", str(out)])
    _check(r, opt)
    assert not out.exists()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=st.sampled_from(sorted(RUN)).flatmap(lambda k: RUN[k].map(lambda v: (*k, v))))
def test_run_commands_refuse_invalid_values(trained, case):
    command, opt, v = case
    r = runner.invoke(app, [command, str(trained), opt, _fmt(v), *(["--trust-oracle"] if command != "report" else [])])
    _check(r, opt)


@pytest.mark.parametrize("argv,flag", [
    (["train", *GC, "--beta-dist", "fixed:nan"], "--beta-dist"),
    (["train", *GC, "--beta-dist", "fixed:inf"], "--beta-dist"),
    (["train", *GC, "--beta-dist", "uniform:1,nan", "--conditioning", "logit"], "--beta-dist"),
    (["train", *GC, "--lr", "inf"], "--lr"),
    (["train", *GC, "--reward-exponent", "nan"], "--reward-exponent"),
    (["train", *GC, "--reward-exponent", "1e6"], "--reward-exponent"),
    (["train", *GC, "--reward-exponent", "-1"], "--reward-exponent"),
    (["design", *GC, "--num-samples", "-1"], "--num-samples"),
    (["design", *GC, "--num-candidates", "-1"], "--num-candidates"),
    (["design", *GC, "--min-distance", "-1"], "--min-distance"),
    (["design", *GC, "--max-similarity", "-1"], "--max-similarity"),
    (["train", *GC, "--workers", "0"], "--workers"),
    (["train", *GC, "--workers", "-1"], "--workers"),
    (["train", *GC, "--seed", "-1"], "--seed"),
    (["train", *GC, "--seed", str(2**70)], "--seed"),
])
def test_the_issues_examples_are_refused(tmp_path, argv, flag):
    r = runner.invoke(app, [*argv, "--rounds", "1", "--out", str(tmp_path / "run")])
    _check(r, flag)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("argv,flag", [(["sample", "-n", "-5"], "-n"), (["evaluate", "-n", "0"], "-n"),
                                       (["evaluate", "--top-k", "0"], "--top-k")])
def test_the_issues_run_examples_are_refused(trained, argv, flag):
    r = runner.invoke(app, [argv[0], str(trained), *argv[1:], "--trust-oracle"])
    _check(r, flag)
