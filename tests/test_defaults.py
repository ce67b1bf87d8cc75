"""`molgfn design` trains with the task's recommended recipe where the user set nothing;
a flag always wins; config.json records the values the run actually used."""

import json

import pytest
from molgfn.tasks import BUILTIN
from molgfn.tasks.custom import CustomSequenceTask
from typer.testing import CliRunner

from cli import app
from molgfn.config import TrainConfig

runner = CliRunner()
CUSTOM = ["--task", "custom", "--oracle", "tests.oracles:gc_content", "--length", 4, "--rounds", 1,
          "--hidden", 8, "--device", "cpu", "--quiet"]


def run(cmd, out, *args):
    r = runner.invoke(app, [cmd, *map(str, CUSTOM), *map(str, args), "--out", str(out)]
                      + (["--num-samples", "8"] if cmd == "design" else []))
    return r, (json.loads((out / "config.json").read_text()) if r.exit_code == 0 else None)


@pytest.fixture
def recipe(monkeypatch):
    """A task-declared recipe with values no option has by default, so each one is visibly applied."""
    rec = {"beta_dist": "uniform:1,2", "conditioning": "logit", "local_search": True, "ls_iterations": 3,
           "lr": 3e-4, "grad_steps": 2, "replay_size": 16, "n_layers": 3}  # beta first: order must not matter
    monkeypatch.setattr(CustomSequenceTask, "design_defaults", rec)
    return rec


def test_design_applies_the_task_recipe_when_nothing_is_set(tmp_path, recipe):
    r, cfg = run("design", tmp_path / "a")
    assert r.exit_code == 0, r.output
    assert {k: cfg[k] for k in recipe} == recipe


def test_explicit_flags_override_the_recipe(tmp_path, recipe):
    r, cfg = run("design", tmp_path / "a", "--lr", 1e-3, "--layers", 2, "--no-local-search", "--grad-steps", 3)
    assert r.exit_code == 0, r.output
    assert (cfg["lr"], cfg["n_layers"], cfg["local_search"], cfg["grad_steps"]) == (1e-3, 2, False, 3)
    assert (cfg["conditioning"], cfg["replay_size"]) == ("logit", 16)  # the rest still from the recipe
    # a flag equal to the plain default still counts as set by the user
    r, cfg = run("design", tmp_path / "b", "--conditioning", "none")
    assert r.exit_code == 0, r.output
    assert (cfg["conditioning"], cfg["beta_dist"]) == ("none", "fixed:1")  # no beta range without conditioning
    assert cfg["lr"] == 3e-4


def test_a_fixed_beta_recipe_sets_its_beta_unless_the_user_asks_for_conditioning(tmp_path, monkeypatch):
    # qm9str and sehstr: TB + LS on R^beta at a fixed beta > 1 (bench/TUNING.md)
    monkeypatch.setattr(CustomSequenceTask, "design_defaults", {"conditioning": "none", "beta_dist": "fixed:2",
                                                                "local_search": True})
    r, cfg = run("design", tmp_path / "a")
    assert r.exit_code == 0, r.output
    assert (cfg["conditioning"], cfg["beta_dist"], cfg["local_search"]) == ("none", "fixed:2", True)
    r, cfg = run("design", tmp_path / "b", "--conditioning", "none")  # the recipe's own conditioning: its beta
    assert r.exit_code == 0, r.output
    assert cfg["beta_dist"] == "fixed:2"
    r, cfg = run("design", tmp_path / "c", "--conditioning", "logit")  # a sampler of every beta: not the recipe's
    assert r.exit_code == 0, r.output
    assert (cfg["conditioning"], cfg["beta_dist"]) == ("logit", "fixed:1")


def test_train_keeps_the_plain_defaults(tmp_path, recipe):
    r, cfg = run("train", tmp_path / "a")
    assert r.exit_code == 0, r.output
    plain = TrainConfig()
    assert {k: cfg[k] for k in recipe} == {k: getattr(plain, k) for k in recipe}


def test_another_objective_gets_the_plain_defaults(tmp_path, recipe):
    r, cfg = run("design", tmp_path / "a", "--objective", "db")
    assert r.exit_code == 0, r.output
    assert (cfg["conditioning"], cfg["local_search"], cfg["lr"]) == ("none", False, TrainConfig().lr)


def test_recipe_local_search_with_an_incompatible_batch_names_the_way_out(tmp_path, recipe):
    r, _ = run("design", tmp_path / "a", "--batch-size", 6)
    assert r.exit_code == 2 and "--no-local-search" in r.output and "divisible by" in r.output
    r, cfg = run("design", tmp_path / "b", "--batch-size", 6, "--no-local-search")
    assert r.exit_code == 0, r.output
    assert cfg["batch_size"] == 6 and cfg["local_search"] is False


def test_resume_keeps_the_runs_own_config(tmp_path, recipe):
    out = tmp_path / "a"
    r, cfg = run("design", out, "--lr", 5e-4)
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["design", *map(str, CUSTOM[:-5]), "--rounds", "2", "--quiet", "--out", str(out),
                            "--resume", "--num-samples", "8"])
    assert r.exit_code == 0, r.output
    cfg2 = json.loads((out / "config.json").read_text())
    assert cfg2["lr"] == 5e-4 and cfg2["rounds"] == 2 and cfg2["ls_iterations"] == 3


def test_a_recipe_key_that_is_no_option_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(CustomSequenceTask, "design_defaults", {"learning_rate": 1e-4})
    r, _ = run("design", tmp_path / "a")
    assert r.exit_code == 2 and "'learning_rate' is not a training option" in r.output


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_every_builtin_recipe_is_a_valid_config(name):
    rec = BUILTIN[name].design_defaults
    fields = set(TrainConfig.__dataclass_fields__)
    assert set(rec) <= fields, set(rec) - fields
    TrainConfig(**rec).validate()  # e.g. LS iterations that divide the default batch of 32


@pytest.mark.parametrize("name,assets", [("tfbind8", ("tfbind8-table", "tfbind8-modes")),
                                         ("qm9str", ("qm9str-table", "qm9str-modes", "qm9str-blocks")),
                                         ("sehstr", ("sehstr-trees", "sehstr-modes", "sehstr-blocks"))])
def test_builtin_task_recipe_reaches_the_run(tmp_path, request, name, assets):
    from dataclasses import asdict

    from .conftest import real_or_synthetic

    real_or_synthetic(request, *assets)
    out = tmp_path / name
    r = runner.invoke(app, ["design", "--task", name, "--rounds", "1", "--hidden", "8", "--num-samples", "8",
                            "--device", "cpu", "--out", str(out)])
    assert r.exit_code == 0, r.output
    if BUILTIN[name].design_defaults:  # the user is told what was chosen for them
        assert f"design defaults for {name}:" in r.output
    cfg = json.loads((out / "config.json").read_text())
    expected = {**asdict(TrainConfig()), **BUILTIN[name].design_defaults, "hidden": 8, "rounds": 1}
    keys = ["conditioning", "beta_dist", "local_search", "ls_iterations", "ls_backtrack", "lr", "grad_steps",
            "replay_size", "batch_size", "epsilon", "hidden"]
    assert {k: cfg[k] for k in keys} == {k: expected[k] for k in keys}
