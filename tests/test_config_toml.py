"""`--config run.toml` and `--print-config`: options from a file, flags override, clear errors,
and a printed config that reads back unchanged."""

import json

import tomllib
from typer.testing import CliRunner

from cli import app
from molgfn.tomlconfig import dumps

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def flat(output: str) -> str:
    """Error text without rich's box and line breaks."""
    return " ".join(output.translate({ord(c): " " for c in "│╭╮╰╯─"}).split())


def test_dumps_is_valid_toml_for_awkward_values():
    opts = {"out": 'runs/a "b"\\c', "name": "émile\ttab", "n": 3, "x": 0.1, "big": 1e-300, "flag": False,
            "inf": float("inf"), "items": ["a=1", "b=2"], "unset": None}
    back = tomllib.loads(dumps(opts, "a header\nof two lines"))
    assert back == {k: v for k, v in opts.items() if v is not None}


def test_print_config_round_trips_through_config(tmp_path):
    r = run("design", "--task", "tfbind8", "--rounds", 7, "--beta", "1,2", "--task-option", "modes=diverse",
            "--local-search", "--print-config")
    assert r.exit_code == 0, r.output
    text = r.stdout
    opts = tomllib.loads(text)
    assert opts["rounds"] == 7 and opts["beta"] == "1,2" and opts["local-search"] is True
    assert opts["task-option"] == ["modes=diverse"] and opts["batch-size"] == 32  # defaults included
    assert "config" not in opts and "print-config" not in opts
    f = tmp_path / "run.toml"
    f.write_text(text)
    r2 = run("design", "--config", f, "--print-config")
    assert r2.exit_code == 0, r2.output
    assert r2.stdout == text


def test_flags_override_the_file_and_the_file_overrides_defaults(tmp_path):
    f = tmp_path / "run.toml"
    f.write_text('task = "tfbind8"\nrounds = 11\nbatch_size = 16\nlr = 1e-4\n[task-option]\nmodes = "diverse"\n')
    r = run("train", "--config", f, "--rounds", 5, "--print-config")
    assert r.exit_code == 0, r.output
    opts = tomllib.loads(r.stdout)
    assert opts["rounds"] == 5  # the flag
    assert opts["batch-size"] == 16 and opts["lr"] == 1e-4 and opts["task"] == "tfbind8"  # the file
    assert opts["task-option"] == ["modes=diverse"]  # a TOML table becomes KEY=VALUE items
    assert opts["grad-steps"] == 3  # the default


def test_a_run_from_a_config_file_uses_its_options(tmp_path):
    f = tmp_path / "run.toml"
    out = tmp_path / "r"
    f.write_text(f'task = "custom"\noracle = "tests.oracles:gc_content"\nalphabet = "ACGT"\nlength = 5\n'
                 f'rounds = 3\nbatch-size = 4\nreplay-size = 4\nhidden = 8\ndevice = "cpu"\nworkers = 1\n'
                 f'num-candidates = 6\nlocal-search = false\nout = "{out}"\n')
    r = run("design", "--config", f, "--hidden", 12)
    assert r.exit_code == 0, r.output
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["rounds"] == 3 and cfg["batch_size"] == 4 and cfg["hidden"] == 12
    assert cfg["options"]["config"] == str(f.resolve())  # where the options came from
    assert cfg["options"]["num_candidates"] == 6
    assert (out / "candidates.csv").read_text().count("\n") == 7  # header + 6 rows


def test_unknown_key_is_named_with_close_matches(tmp_path):
    f = tmp_path / "run.toml"
    f.write_text("batch_sise = 64\n")
    r = run("design", "--config", f)
    assert r.exit_code == 2
    text = flat(r.output)
    assert "unknown key 'batch_sise'" in text and "did you mean batch-size" in text


def test_wrong_types_name_the_key(tmp_path):
    f = tmp_path / "run.toml"
    f.write_text('rounds = "100"\nlocal-search = 1\nlr = "fast"\nlogger = [1, [2]]\n')
    r = run("train", "--config", f)
    assert r.exit_code == 2
    text = flat(r.output)
    assert "key 'rounds' must be an integer" in text
    assert "key 'local-search' must be true or false" in text
    assert "key 'lr' must be a number" in text
    assert "key 'logger' must be a list of strings" in text


def test_missing_and_broken_files_are_clear(tmp_path):
    r = run("train", "--config", tmp_path / "nope.toml")
    assert r.exit_code == 2 and "does not exist" in flat(r.output)
    f = tmp_path / "bad.toml"
    f.write_text("rounds = = 3\n")
    r = run("train", "--config", f)
    assert r.exit_code == 2 and "not valid TOML" in flat(r.output)


def test_a_key_of_another_command_says_which(tmp_path):
    f = tmp_path / "run.toml"
    f.write_text("num-candidates = 5\nrounds = 3\n")  # a design option given to train
    r = run("train", "--config", f)
    assert r.exit_code == 2
    assert "key 'num-candidates' is an option of `molgfn design`, not of this command" in flat(r.output)


def test_design_print_config_holds_the_recipe_and_its_file_reproduces_the_run(tmp_path):
    """`design --print-config > run.toml` then `design --config run.toml` is the same run: the file
    holds the task's recipe (not train's plain defaults), so config.json and the first rounds agree."""
    import csv

    flags = ["--task", "custom", "--oracle", "tests.oracles:gc_content", "--length", 4, "--rounds", 2,
             "--batch-size", 8, "--replay-size", 4, "--hidden", 16, "--num-samples", 8, "--device", "cpu",
             "--executor", "local", "--quiet"]
    r = run("design", *flags, "--out", tmp_path / "a")
    assert r.exit_code == 0, r.output
    r = run("design", *flags, "--out", tmp_path / "b", "--print-config")
    assert r.exit_code == 0, r.output
    opts = tomllib.loads(r.stdout)
    assert (opts["conditioning"], opts["beta-dist"], opts["local-search"]) == ("logit", "uniform:1,3", True)
    (tmp_path / "run.toml").write_text(r.stdout)
    r = run("design", "--config", tmp_path / "run.toml")
    assert r.exit_code == 0, r.output
    a, b = (json.loads((tmp_path / d / "config.json").read_text()) for d in "ab")
    for cfg in (a, b):
        cfg["options"].pop("out_dir"), cfg["options"].pop("config")
    varying = {k for k in a if k not in b or a[k] != b[k]}
    assert not varying - {"created", "started", "host", "command", "molgfn_version_time"}, \
        {k: (a.get(k), b.get(k)) for k in varying}
    assert a["conditioning"] == "logit" and a["local_search"] is True
    rows = []
    for d in "ab":
        with open(tmp_path / d / "metrics.csv") as f:
            rows.append(next(csv.DictReader(f)))
    timing = {k for k in rows[0] if "time" in k or k.endswith(("_s", "_ms"))}
    first = [{k: v for k, v in row.items() if k not in timing} for row in rows]
    assert first[0] == first[1]
