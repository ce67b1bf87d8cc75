"""A conventional command line: --version, -h, machine-readable output, bench on your own oracle."""

import json

import pandas as pd
from typer.testing import CliRunner

from cli import app

runner = CliRunner()
CUSTOM = ["--task", "custom", "--oracle", "tests.oracles:gc_content", "--alphabet", "ACGT", "--length", "6",
          "--batch-size", "8", "--replay-size", "8", "--hidden", "16", "--device", "cpu", "--workers", "1"]


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_version():
    from molgfn import __version__

    r = run("--version")
    assert r.exit_code == 0 and r.stdout.strip() == f"molgfn {__version__}"


def test_short_help_everywhere():
    for args in (["-h"], ["design", "-h"], ["data", "fetch", "-h"], ["evaluate", "-h"]):
        r = run(*args)
        assert r.exit_code == 0, (args, r.output)
        assert "Usage:" in r.output and "--help" in r.output


def test_info_and_evaluate_as_json(tmp_path):
    out = tmp_path / "r"
    r = run("train", *CUSTOM, "--rounds", 3, "--out", out)
    assert r.exit_code == 0, r.output
    r = run("info", out, "--format", "json")
    assert r.exit_code == 0, r.output
    info = json.loads(r.stdout)  # the whole stdout is one JSON document
    assert info["config"]["task"] == "custom" and info["config"]["rounds"] == 3
    metrics = pd.read_csv(out / "metrics.csv")
    assert info["last_metrics"]["round"] == 3 and isinstance(info["last_metrics"]["round"], int)
    assert info["last_metrics"]["loss"] == metrics["loss"].iloc[-1]
    r = run("evaluate", out, "-n", 50, "--k", 10, "--device", "cpu", "--format", "json", "--trust-oracle")
    assert r.exit_code == 0, r.output
    ev = json.loads(r.stdout)
    assert ev == json.loads((out / "evaluation.json").read_text())
    assert ev["n_samples"] == 50 and ev["top_k"] == 10 and ev["reward_calls"] == 24
    r = run("info", out, "--format", "xml")
    assert r.exit_code == 2 and "xml" in r.output


def test_bench_with_a_custom_oracle_reports_progress(tmp_path):
    r = run("bench", "--oracle", "tests.oracles:gc_content", "--length", 5, "--reward-exponent", 3,
            "--methods", "tb,tb-ls", "--seeds", "0", "--rounds", 4, "--workers", 1, "--out", tmp_path)
    assert r.exit_code == 0, r.output
    df = pd.read_csv(tmp_path / "results.csv")
    assert set(df["task"]) == {"custom"} and set(df["method"]) == {"tb", "tb-ls"}
    assert (df["reward_calls"] == 4 * 32).all()
    assert df["top_k_mean_raw"].between(0, 1).all()  # GC content is a fraction
    done = [ln for ln in r.output.splitlines() if ln.startswith("run ") and " done: " in ln]
    assert [ln.split()[1] for ln in done] == ["1/2", "2/2"]
    assert "custom tb seed 0" in done[0] and "custom tb-ls seed 0" in done[1]


def test_bench_oracle_errors_before_any_run(tmp_path):
    r = run("bench", "--oracle", "tests.oracles:no_such_fn", "--rounds", 2, "--workers", 1, "--out", tmp_path)
    assert r.exit_code == 2 and "no_such_fn" in r.output
    assert not (tmp_path / "results.csv").exists()


def test_candidate_tables_never_cut_a_molecule_at_80_columns():
    import io

    from rich.console import Console

    from molgfn.display import candidate_table_view

    smi = "CC(=O)Nc1ccc(cc1)S(=O)(=O)N1CCN(CC1)C(=O)c1ccc2OCOc2c1" * 2  # longer than the terminal
    df = pd.DataFrame({"rank": [1, 2], "smiles": [smi, "CCO"], "raw_score": [7.123456, 1.0], "reward": [0.5, 0.1],
                       "qed": [0.61, 0.4], "mol_weight": [432.5, 46.07], "num_blocks": [3, 1],
                       "times_sampled": [4, 1], "first_round": [10, 2]})
    table, left_out = candidate_table_view(df, show=2, width=80)
    buf = io.StringIO()
    Console(file=buf, width=80, color_system=None).print(table)
    text = buf.getvalue()
    assert max(len(ln) for ln in text.splitlines()) <= 80
    assert "…" not in text
    cells = "".join(ln.split("│")[2].strip() for ln in text.splitlines() if ln.count("│") > 2)
    assert smi in cells  # the whole SMILES, folded over lines
    shown = [c for c in df.columns if c not in left_out]
    assert shown[:3] == ["rank", "smiles", "raw_score"] and left_out  # the rest is named, not squeezed
