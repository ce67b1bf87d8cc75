"""A conventional command line: --version, -h, machine-readable output, bench on your own oracle."""

import json

import pandas as pd
import pytest
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
    r = run("evaluate", out, "-n", 50, "--top-k", 10, "--device", "cpu", "--format", "json", "--trust-oracle")
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


# ---- one naming convention, fixed choices, help panels (issue 12 §4) ---------------------------------------
def _commands():
    """Every command of the app as (name, click command), data's subcommands included."""
    import typer.main

    group = typer.main.get_command(app)
    for name, cmd in group.commands.items():
        for sub, c in (getattr(cmd, "commands", None) or {"": cmd}).items():
            yield f"{name} {sub}".strip(), c


def _flat(text: str) -> str:
    """Help or error text without rich's box characters and line breaks (words folded at 80 columns join)."""
    return "".join(text.translate({ord(c): " " for c in "│╭╮╰╯─"}).split())


def test_choice_enums_are_the_librarys_choices():
    import cli
    from molgfn.bench import PRESETS
    from molgfn.chem.descriptors import FORMATS
    from molgfn.config import resolve_device
    from molgfn.errors import InputError
    from molgfn.local_search import FILTERS
    from molgfn.objectives import OBJECTIVES
    from molgfn.objectives.common import CONTROL_VARIATES
    from molgfn.oracle.cached import EXECUTORS, ON_ERROR
    from molgfn.policies import CONDITIONINGS

    pairs = [(cli.Objective, OBJECTIVES), (cli.Conditioning, CONDITIONINGS), (cli.LSFilter, FILTERS),
             (cli.ControlVariate, CONTROL_VARIATES), (cli.Executor, EXECUTORS), (cli.OnOracleError, ON_ERROR),
             (cli.ListFormat, FORMATS), (cli.Preset, PRESETS)]
    for enum, lib in pairs:
        assert [m.value for m in enum] == list(lib), enum
    assert str(resolve_device("cpu")) == "cpu" and resolve_device("auto").type in ("cpu", "cuda")
    for bad in ("gpu", "cuda:0"):  # the library refuses what the enum leaves out
        with pytest.raises(InputError):
            resolve_device(bad)


def _choices(param) -> list[str]:
    """The values of an option whose type is an Enum (or a list of one, or an optional one)."""
    import enum
    import types
    import typing

    ann = param.type_descriptor.annotation
    while typing.get_origin(ann) in (list, typing.Union, types.UnionType):
        ann = [a for a in typing.get_args(ann) if a is not type(None)][0]
    return [m.value for m in ann] if isinstance(ann, type) and issubclass(ann, enum.Enum) else []


def test_every_help_lists_its_choices():
    """A fixed choice shows as <a|b|c> in --help, or (objective, ls-filter: a custom metavar) each choice is
    explained in the option's help text."""
    import re

    seen = 0
    for name, cmd in _commands():
        r = run(*name.split(), "-h")
        assert r.exit_code == 0, (name, r.output)
        text = _flat(r.output)
        for p in cmd.params:
            values = _choices(p)
            if not values:
                continue
            seen += 1
            if p.metavar:
                for v in values:  # each choice named as a word of the option's own help
                    assert re.search(rf"(^|[\s(]){re.escape(v)}[\s:,.)]", p.help), (name, p.name, v)
                    assert v in text
            else:
                assert "|".join(values) in text, (name, p.name, values)
    assert seen >= 20  # train and design carry nine choices each


def test_one_naming_convention_on_every_command():
    """-n/--num-samples for sample counts, -o/--output for files, --out (no short form) for folders."""
    counted = files = folders = 0
    for name, cmd in _commands():
        opts = {p.name: list(p.opts) for p in cmd.params if p.param_type_name == "option"}
        if "num_samples" in opts:
            assert sorted(opts["num_samples"]) == ["--num-samples", "-n"], name
            counted += 1
        if "output" in opts:
            assert sorted(opts["output"]) == ["--output", "-o"], name
            files += 1
        if "out_dir" in opts:
            assert opts["out_dir"] == ["--out"], name
            folders += 1
        for p in cmd.params:  # the old spellings are not options any more (they are renamed())
            assert not {"--n", "--k"} & set(p.opts), (name, p.name)
    assert (counted, files, folders) == (3, 4, 5)  # design sample evaluate; ...; folders: ... and receptor prepare


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("conv") / "r"
    r = run("train", *CUSTOM, "--rounds", 2, "--out", out)
    assert r.exit_code == 0, r.output
    return out


def _notes(r) -> list[str]:
    return [ln for ln in r.stderr.splitlines() if ln.startswith("note:") and "deprecated" in ln]


def test_new_and_old_spellings_give_the_same_evaluation(trained):
    new = run("evaluate", trained, "-n", 20, "--top-k", 5, "--format", "json", "--trust-oracle", "--device", "cpu")
    assert new.exit_code == 0, new.output
    assert _notes(new) == []
    old = run("evaluate", trained, "--n", 20, "--k=5", "--format", "json", "--trust-oracle", "--device", "cpu")
    assert old.exit_code == 0, old.output
    assert _notes(old) == ["note: --n is deprecated and will be removed; use --num-samples",
                           "note: --k is deprecated and will be removed; use --top-k"]
    a, b = json.loads(new.stdout), json.loads(old.stdout)
    assert a["n_samples"] == b["n_samples"] == 20 and a["top_k"] == b["top_k"] == 5
    assert a == b  # same seed, same metrics


def test_sample_counts_and_files_under_both_spellings(trained, tmp_path):
    r = run("sample", trained, "--num-samples", 6, "-o", tmp_path / "a.csv", "--trust-oracle", "--device", "cpu")
    assert r.exit_code == 0 and _notes(r) == [], r.output
    r = run("sample", trained, "--n", 4, "--output", tmp_path / "b.csv", "--trust-oracle", "--device", "cpu")
    assert r.exit_code == 0, r.output
    assert _notes(r) == ["note: --n is deprecated and will be removed; use --num-samples"]
    assert len(pd.read_csv(tmp_path / "a.csv")) == 6 and len(pd.read_csv(tmp_path / "b.csv")) == 4


def test_an_option_value_that_looks_like_an_old_flag_is_left_alone(trained, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = run("sample", trained, "--output", "--n", "-n", 3, "--trust-oracle", "--device", "cpu")
    assert r.exit_code == 0, r.output
    assert _notes(r) == []
    assert len(pd.read_csv(tmp_path / "--n")) == 3  # a file named --n, as asked


def test_minus_o_for_a_run_folder_still_works_with_a_note(tmp_path):
    for i, form in enumerate((["-o", tmp_path / "a"], [f"-o{tmp_path / 'b'}"])):
        r = run("train", *CUSTOM, "--rounds", 1, *form)
        assert r.exit_code == 0, r.output
        assert _notes(r) == ["note: -o is deprecated and will be removed; use --out"]
        assert (tmp_path / "ab"[i] / "checkpoint.pt").exists()
    r = run("report", tmp_path / "a", "-o", tmp_path / "rep")
    assert r.exit_code == 0, r.output
    assert _notes(r) and (tmp_path / "rep" / "report.html").exists()


def test_score_and_scores_write_files_with_minus_o(trained, tmp_path):
    (tmp_path / "in.txt").write_text("ACGTAC\nGGGGGG\n")
    r = run("score", *CUSTOM[:8], "--input", tmp_path / "in.txt", "-o", tmp_path / "s.csv", "--workers", 1)
    assert r.exit_code == 0, r.output
    df = pd.read_csv(tmp_path / "s.csv")
    assert df["raw_score"].tolist() == [0.5, 1.0]  # GC content
    r = run("scores", trained, "-o", tmp_path / "store.csv")
    assert r.exit_code == 0, r.output
    assert len(pd.read_csv(tmp_path / "store.csv")) > 0


@pytest.mark.parametrize("argv,flag,value", [
    (["train", "--objective", "tbb"], "--objective", "tbb"),
    (["design", "--conditioning", "logits"], "--conditioning", "logits"),
    (["train", "--ls-filter", "metropolis"], "--ls-filter", "metropolis"),
    (["design", "--device", "gpu"], "--device", "gpu"),
    (["train", "--control-variate", "mean"], "--control-variate", "mean"),
    (["train", "--executor", "slurm"], "--executor", "slurm"),
    (["train", "--on-oracle-error", "skip"], "--on-oracle-error", "skip"),
    (["design", "--format", "xlsx"], "--format", "xlsx"),
    (["bench", "--preset", "huge"], "--preset", "huge"),
    (["evaluate", "RUN", "--device", "tpu"], "--device", "tpu"),
])
def test_a_bad_choice_is_one_clear_error(tmp_path, argv, flag, value):
    out = tmp_path / "r"
    r = run(*[out if a == "RUN" else a for a in argv], *(["--out", out] if argv[0] != "evaluate" else []))
    assert r.exit_code == 2 and r.stdout == "" and not out.exists()
    [line] = r.stderr.splitlines()  # one line, naming the flag, the choices and the value given
    cmd = next(c for n, c in _commands() if n == argv[0])
    choices = _choices(next(p for p in cmd.params if flag in p.opts))
    need = " or ".join(choices) if len(choices) == 2 else "one of " + ", ".join(choices)
    assert line == f"error: {flag} must be {need}, got '{value}'"


def test_design_help_reads_at_80_columns():
    r = runner.invoke(app, ["design", "-h"], env={"COLUMNS": "80", "TERMINAL_WIDTH": "80"})
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert max(len(ln) for ln in lines) <= 80
    assert "…" not in r.output  # no option name, value or word cut
    panels = [ln.split("─ ")[1].split(" ─")[0] for ln in lines if ln.startswith("╭─ ")]
    assert panels == ["Options", "Task", "Model", "Training", "Local search", "Several objectives",
                      "Oracle and execution", "Output", "Candidates", "Watching the run", "Config file"]
    # the help text column starts by column 50 in every row, so it is at least 28 characters wide
    import re

    # a row: the option, its --no- form or short name, its type (none for a flag), then its help text
    rows = [re.match(r"│ (--\S+)\s+(--no-\S+\s+)?(-\w\s+)?((<\S*|NAME)\s+)?\S", ln) for ln in lines]
    starts = {m[1]: m.end() - 1 for m in rows if m}
    assert len(starts) > 60 and max(starts.values()) <= 53, starts  # help text >= 24 wide (was 18)


def test_a_config_file_is_checked_against_the_choices(tmp_path):
    f = tmp_path / "run.toml"
    f.write_text('objective = "tbb"\ndevice = "gpu"\nls-filter = "mh"\nexecutor = "slurm"\n')
    r = run("train", "--config", f)
    assert r.exit_code == 2
    text = " ".join(r.output.translate({ord(c): " " for c in "│╭╮╰╯─"}).split())
    assert "key 'objective' must be one of tb, db, subtb, fldb, rkl, fkl, kl-mix, renyi, tsallis" in text
    assert "key 'device' must be one of auto, cpu, cuda" in text
    assert "key 'executor' must be one of auto, local, process, ray" in text and "ls-filter" not in text
    f.write_text('objective = "kl-mix"\nconditioning = "logit"\ncontrol-variate = "logz"\nformat = "sdf"\n')
    r = run("design", "--config", f, "--print-config")
    assert r.exit_code == 0, r.output
    import tomllib

    opts = tomllib.loads(r.stdout)  # plain strings back, readable by --config again
    assert (opts["objective"], opts["conditioning"], opts["control-variate"], opts["format"]) == \
        ("kl-mix", "logit", "logz", "sdf")
    assert opts["device"] == "auto" and "executor" not in opts  # unset: written as a comment


def test_runs_made_before_the_choices_were_enums_still_load_and_resume(tmp_path):
    """A run written by the library as main wrote it (plain strings in config.json) resumes under the
    enum-typed flags, and what the CLI writes stays plain strings that the checkpoint loader accepts."""
    from molgfn.tasks import get_task

    from molgfn.api import train
    from molgfn.config import TrainConfig

    out = tmp_path / "old"
    opts = {"oracle": "tests.oracles:gc_content", "alphabet": "ACGT", "length": 6, "reward_exponent": 1.0,
            "workers": 1}  # the task options main's CLI recorded
    cfg = TrainConfig(task="custom", task_options=opts, rounds=2, batch_size=8, replay_size=8, hidden=16,
                      device="cpu", objective="kl-mix", conditioning="logit", beta_dist="uniform:1,2",
                      local_search=True, ls_iterations=3, ls_filter="mh",
                      objective_options={"subtb_lambda": 0.9, "alpha": 0.5, "kl_mix_lambda": 0.5,
                                         "control_variate": "none", "fldb_partial": False})
    task = get_task("custom", **opts)
    try:
        train(task, out, config=cfg)
    finally:
        task.close()
    flags = ["--objective", "kl-mix", "--conditioning", "logit", "--ls-filter", "mh", "--control-variate", "none"]
    r = run("train", "--out", out, "--resume", "--rounds", 3, "--oracle", "tests.oracles:gc_content", *flags,
            "--device", "cpu", "--workers", 1)
    assert r.exit_code == 0, r.output
    raw = (out / "config.json").read_text()
    cfg = json.loads(raw)
    assert cfg["rounds"] == 3 and pd.read_csv(out / "metrics.csv")["round"].tolist() == [1, 2, 3]
    for key, value in [("objective", "kl-mix"), ("conditioning", "logit"), ("ls_filter", "mh"), ("device", "cpu")]:
        assert f'"{key}": "{value}"' in raw  # a plain JSON string, as before
    r = run("train", "--out", out, "--resume", "--rounds", 4, "--oracle", "tests.oracles:gc_content",
            "--objective", "tb", "--device", "cpu")
    assert r.exit_code == 2 and "--objective tb (the run has 'kl-mix')" in r.output  # a contradiction is named
    r = run("sample", out, "-n", 5, "--trust-oracle", "--device", "cpu")  # the checkpoint loads (weights only)
    assert r.exit_code == 0, r.output
    assert len(pd.read_csv(__import__("io").StringIO(r.stdout))) == 5


def test_the_cli_records_choices_as_plain_strings(trained):
    cfg = json.loads((trained / "config.json").read_text())
    o = cfg["options"]
    assert (o["objective"], o["conditioning"], o["ls_filter"], o["control_variate"], o["device"]) == \
        ("tb", "none", "greedy", "loo", "cpu")
    assert o["on_oracle_error"] == "stop" and o["executor"] is None and o["progress"] == "auto"
    assert (cfg["objective"], cfg["device"]) == ("tb", "cpu")


def test_the_negative_flags_left_out_of_help_still_work():
    r = run("train", "-h")
    assert "--uniform-pb" in r.output and "--no-uniform-pb" not in r.output
    assert "--no-local-search" in r.output  # shown: design's recipes turn local search on
    r = run("design", "--uniform-pb", "--fldb-partial", "--no-uniform-pb", "--no-track-modes", "--print-config")
    assert r.exit_code == 0, r.output
    import tomllib

    opts = tomllib.loads(r.stdout)
    assert opts["uniform-pb"] is False and opts["fldb-partial"] is True and opts["track-modes"] is False
