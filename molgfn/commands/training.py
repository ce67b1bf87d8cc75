"""`molgfn train` and `molgfn design` (train, then rank and write the candidates)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .base import console, out
from .common import _rich_table, _write_list
from .errors import friendly
from .options import _INVOKED, ListFormat, _check_ranges, with_training_options
from .training_run import _train_like


@friendly
@with_training_options
def train(
    out_dir: Annotated[Path, typer.Option("--out", help="Run directory (config, metrics, checkpoint).")]
    = Path("runs/latest"),
    **opts,
) -> None:
    """Train a GFlowNet sampler on a task; writes config.json, metrics.csv, checkpoint.pt in --out."""
    tr = _train_like(out_dir=out_dir, **opts)
    console.print(f"trained {tr.round} rounds, {tr.reward_calls} reward calls -> {out_dir}")


@friendly
@with_training_options
def design(
    ctx: typer.Context,
    out_dir: Annotated[Path, typer.Option("--out", help="Run directory; candidates.csv goes here.")]
    = Path("runs/design"),
    num_candidates: Annotated[int, typer.Option(help="Rows in candidates.csv (best first).")] = 100,
    num_samples: Annotated[int, typer.Option("--num-samples", "-n", help="Samples drawn from the trained sampler, "
                                             "added to the objects seen in training before ranking.")] = 1000,
    beta: Annotated[str | None, typer.Option(help="Inverse temperature(s) of the final sampling, e.g. 1 or 1,5,10 "
                                             "(several: one merged list with a beta column, ranked within each "
                                             "beta). Default: 1, or the trained one.")] = None,
    preference: Annotated[list[str] | None, typer.Option(
        help="Preference-conditioned runs: a weighting w to sample at, one number per objective (e.g. "
             "0.7,0.1,0.1,0.1); repeatable, the lists merged and Pareto-ranked. Default: each objective alone "
             "and equal weights.")] = None,
    min_distance: Annotated[int, typer.Option(help="Diverse list: keep a sequence only if its Levenshtein "
                                              "distance to every better one kept is at least this (0: off).")] = 0,
    max_similarity: Annotated[float, typer.Option(help="Diverse list of molecules: keep one only if its Tanimoto "
                                                  "similarity to every better one kept is below this (1: off).")]
    = 1.0,
    max_per_scaffold: Annotated[int, typer.Option(help="Diverse list of molecules: at most this many per Murcko "
                                                  "scaffold, the best of each (0: off).")] = 0,
    format: Annotated[ListFormat, typer.Option("--format", help="Candidate list format: csv, sdf (one 3-D "
                                               "conformer per molecule, every column as an SD property) or "
                                               "parquet; candidates.csv is always written too.")] = ListFormat.csv,
    show: Annotated[int, typer.Option(help="Print this many top candidates.")] = 10,
    **opts,
) -> None:
    """Train, then write a ranked table of unique candidates (candidates.csv) and print the best.

    Training options you leave unset follow the task's recommended recipe (printed at the start; \
see bench/TUNING.md), not the defaults shown below, which are what `molgfn train` uses."""
    from molgfn.errors import InputError

    _check_ranges(("--num-samples", num_samples, 0, 10**7), ("--num-candidates", num_candidates, 1, 10**7),
                  ("--min-distance", min_distance, 0, None), ("--max-similarity", max_similarity, 0, 1),
                  ("--show", show, 0, None))
    if max_similarity <= 0:
        raise InputError(f"--max-similarity must be in (0, 1], got {max_similarity}")

    def precheck(cfg, task) -> None:  # options of the final step are checked before any training
        betas = parse_betas(beta) if beta else []
        if cfg.conditioning == "none" and any(b != BetaDist(cfg.beta_dist).vals[0] for b in betas):
            raise InputError("--beta other than the trained one needs a temperature-conditional sampler "
                             "(--conditioning logit --beta-dist uniform:LO,HI)")
        if max_similarity < 1.0 and task.object_column != "smiles" and task.smiles(
                task.env.to_strings(task.env.initial(0))) is None:
            raise InputError(f"--max-similarity compares molecules; task {task.name!r} has none: "
                             "use --min-distance for sequences")
        if (max_per_scaffold > 0 or format == "sdf") and task.object_column != "smiles" and task.smiles(
                task.env.to_strings(task.env.initial(0))) is None:
            raise InputError(f"--max-per-scaffold and --format sdf need molecules; task {task.name!r} has none")
        if max_per_scaffold < 0:
            raise InputError("--max-per-scaffold must be >= 0 (0: off)")
        if preference and not cfg.preference_dist:
            raise InputError("--preference needs a preference-conditioned sampler: drop --weights (or give "
                             "--preference-dist dirichlet:1) for a task with several objectives")
        if preference:
            from molgfn.moo import parse_preference

            for w in preference:
                parse_preference(w, [c.name for c in task.components])

    from molgfn.config import BetaDist

    opts = _design_defaults(ctx, opts)
    _INVOKED.update(opts)  # config.json records the options the run used, the recipe included
    src = ctx.get_parameter_source("num_samples")
    tr = _train_like(out_dir=out_dir, precheck=precheck, **opts)
    if tr.cfg.max_oracle_calls is not None and (src is None or src.name == "DEFAULT"):
        num_samples = 0  # a budgeted run (also resumed) ranks what it scored: samples would be calls past it
    try:
        _write_candidates(tr, out_dir, num_samples, num_candidates, beta, show, min_distance, max_similarity,
                          max_per_scaffold, format, preference)
    finally:
        tr.task.close()


CLI_NAME = {"n_layers": "layers"}  # TrainConfig field -> option name, where they differ


def _design_defaults(ctx: typer.Context, opts: dict) -> dict:
    """The task's recommended recipe (``Task.design_defaults``) for every training option the
    user did not give on the command line; the user's flags always win. Tuned with TB only,
    so another --objective (or --resume, which keeps its run's config) gets the plain defaults."""
    from molgfn.errors import InputError
    from molgfn.tasks import registry

    cls = registry().get(opts["task"])
    if opts["resume"] or opts["objective"] != "tb" or cls is None:
        return opts
    if not isinstance(cls, type):  # an entry-point plugin the user named: get_task loads it anyway
        try:
            cls = cls.load()
        except Exception:
            return opts  # get_task reports the failure
    sources = {name: ctx.get_parameter_source(name) for name in opts}
    given = {name for name, src in sources.items() if src is not None and src.name != "DEFAULT"}
    new = dict(opts)
    applied = {}
    for key, value in getattr(cls, "design_defaults", {}).items():
        name = CLI_NAME.get(key, key)
        if name not in opts:
            raise InputError(f"task {opts['task']!r}: design default {key!r} is not a training option")
        if name not in given:
            new[name] = applied[name] = value
    recipe_conditioning = getattr(cls, "design_defaults", {}).get("conditioning", "none")
    # the user's --conditioning turned a conditional recipe into a fixed-beta one or back: no recipe beta (fixed:1)
    if "beta_dist" in applied and (new["conditioning"] == "none") != (recipe_conditioning == "none"):
        new["beta_dist"] = opts["beta_dist"]
        del applied["beta_dist"]
    if new["local_search"] and "local_search" in applied and new["batch_size"] % (new["ls_iterations"] + 1):
        raise InputError(f"design uses local search by default, which needs --batch-size divisible by "
                         f"--ls-iterations + 1 ({new['ls_iterations'] + 1}): change --batch-size, or pass "
                         "--no-local-search")
    if applied and not new["quiet"]:
        flag = lambda k: "--" + k.replace("_", "-")  # noqa: E731
        shown = " ".join(flag(k) if v is True else f"--no-{flag(k)[2:]}" if v is False else f"{flag(k)} {v}"
                         for k, v in applied.items())
        console.print(f"design defaults for {opts['task']}: {shown} (bench/TUNING.md; any flag overrides)")
    return new


def parse_betas(spec: str) -> list[float]:
    from molgfn.errors import InputError

    try:
        betas = [float(b) for b in spec.split(",") if b.strip()]
    except ValueError:
        betas = []
    if not betas or any(not 0 < b <= 1e3 for b in betas):
        raise InputError(f"--beta must be finite numbers in (0, 1000] separated by commas, got {spec!r}")
    return betas


def _write_candidates(tr, out_dir: Path, num_samples: int, num_candidates: int, beta: str | None, show: int,
                      min_distance: int = 0, max_similarity: float = 1.0, max_per_scaffold: int = 0,
                      fmt: str = "csv", preference: list[str] | None = None) -> None:
    from molgfn.api import rank_candidates
    from molgfn.chem.descriptors import CHECK_ORDER
    from molgfn.runs import CANDIDATES, atomic_write_csv

    trained_counts = dict(getattr(tr.task, "filter_counts", {}))
    df = rank_candidates(tr, num_samples, num_candidates, parse_betas(beta) if beta else None, min_distance,
                         max_similarity, preference, max_per_scaffold)
    atomic_write_csv(out_dir / CANDIDATES, df)
    if fmt != "csv":
        _write_list(df, out_dir / Path(CANDIDATES).with_suffix("." + fmt).name, fmt, task=tr.task)
    if getattr(tr.task, "filters", ()) or getattr(tr.task, "constrained", False):  # over training's reward calls
        filters = sorted(tr.task.filters, key=CHECK_ORDER.index)
        other = [k for k in trained_counts if k not in ("filtered", *filters)]  # e.g. a scoring file's forbidden ones
        per = ", ".join(f"{f} {trained_counts.get(f, 0)}" for f in [*filters, *other])
        console.print(f"filters: {trained_counts['filtered']} of {tr.reward_calls} reward calls in training were "
                      f"molecules rejected by a filter ({per}; checked in this order, each counted once); they got "
                      "the floor reward", soft_wrap=True)
    if "smiles" in df.columns:  # molecules: a picture of the best ones
        from molgfn.report import MOLECULES_PNG, molecule_grid

        if molecule_grid(df, out_dir / MOLECULES_PNG) is not None:
            console.print(f"top molecules -> {out_dir / MOLECULES_PNG}")
    tr.task.close()
    table, left_out = _rich_table(df, show, out.width)
    out.print(table, crop=False)  # a SMILES is never cut: the line runs on
    if left_out:
        console.print(f"(not shown here: {', '.join(left_out)})", highlight=False)
    console.print(f"{len(df)} ranked candidates -> {out_dir / CANDIDATES}")
