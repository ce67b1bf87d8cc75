"""`molgfn sample` and `molgfn evaluate`: a trained run's samples and its metrics."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from .base import console, out
from .common import _emit, _load_run, _output_path, _print_json
from .errors import friendly
from .options import (
    SEED_MAX,
    DataDirOpt,
    Device,
    DeviceOpt,
    ForceOpt,
    Format,
    FormatOpt,
    OracleOpt,
    TrustOracleOpt,
    _check_ranges,
)


@friendly
def sample(
    run: Annotated[Path, typer.Argument(help="A run directory written by train or design.")],
    num_samples: Annotated[int, typer.Option("--num-samples", "-n", help="Number of samples (>= 1).")] = 100,
    beta: Annotated[float | None, typer.Option(help="Inverse temperature to sample at (default: 1, or the "
                                               "trained one for an unconditional sampler).")] = None,
    preference: Annotated[str | None, typer.Option(
        help="Preference-conditioned runs: the weighting w to sample at, one number per objective (e.g. "
             "0.7,0.1,0.1,0.1). Default: w drawn from the training distribution for each sample.")] = None,
    output: Annotated[str, typer.Option("--output", "-o", help="Output file (.csv, .sdf or .parquet), or - for CSV on "
                                        "stdout.")] = "-",
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    device: DeviceOpt = Device.auto,
    data_dir: DataDirOpt = None,
    oracle: OracleOpt = None,
    trust_oracle: TrustOracleOpt = False,
    force: ForceOpt = False,
) -> None:
    """Draw N samples from a trained sampler (with their raw scores and rewards; multi-objective
    tasks: their objectives and Pareto ranks; a run with your own oracle is scored only when you
    name it with --oracle or --trust-oracle)."""
    from molgfn.api import sample as sample_run
    from molgfn.limits import MAX_SAMPLES

    _check_ranges(("--num-samples", num_samples, 1, MAX_SAMPLES), ("--seed", seed, 0, SEED_MAX))
    output = _output_path(output, force)  # before any work: never onto a run's files or a file not ours
    tr = _load_run(run, data_dir, device, oracle, trust_oracle, need_oracle=False)
    try:
        tr.gen.manual_seed(seed)
        df = sample_run(tr, num_samples, beta, preference)
    finally:
        tr.task.close()
    if getattr(tr.task, "oracle", True) is None:
        console.print(f"not scored: this run's oracle {tr.cfg.task_options['oracle']!r} is only loaded when "
                      "you pass --oracle (or --trust-oracle)")
    if "smiles" in df.columns:  # molecules: the chemistry columns
        from molgfn.chem.descriptors import add_descriptors

        df = add_descriptors(df)
    _emit(df, output, task=tr.task)


@friendly
def evaluate(
    run: Annotated[Path, typer.Argument(help="A run directory written by train or design.")],
    num_samples: Annotated[int, typer.Option("--num-samples", "-n", help="Final samples for the top-k metrics.")]
    = 1000,
    beta: Annotated[float | None, typer.Option(help="Inverse temperature of the final samples and of the "
                                               "exact target (default: 1, or the trained one).")] = None,
    top_k: Annotated[int, typer.Option(help="k of the top-k score and diversity.")] = 100,
    seed: Annotated[int, typer.Option(help="Random seed of the final sampling.")] = 0,
    device: DeviceOpt = Device.auto,
    data_dir: DataDirOpt = None,
    fmt: FormatOpt = Format.table,
    exact_front: Annotated[bool, typer.Option(help="Multi-objective sequence tasks: score every object to find "
                                              "the true Pareto front, and report IGD against it.")] = False,
    oracle: OracleOpt = None,
    trust_oracle: TrustOracleOpt = False,
) -> None:
    """The papers' metrics for a run: modes found, top-k score and diversity, and (enumerable
    tasks) the exact L1 distance to R^beta/Z, log p vs log R correlation and log Z error; on every
    task an importance-sampled log Z with its standard error and effective sample size against the
    learned log Z (is_log_z_error: is the sampler calibrated?). Written to RUN/evaluation.json."""
    from molgfn.evaluation import evaluate_trainer
    from molgfn.limits import MAX_SAMPLES
    from molgfn.runs import atomic_write_text

    _check_ranges(("--num-samples", num_samples, 1, MAX_SAMPLES), ("--top-k", top_k, 1, None),
                  ("--seed", seed, 0, SEED_MAX))
    tr = _load_run(run, data_dir, device, oracle, trust_oracle)
    try:
        from molgfn.moo import objective_report

        tr.gen.manual_seed(seed)
        res = evaluate_trainer(tr, n=num_samples, beta=tr.sampling_beta(beta), k=top_k)
        res.update(objective_report(tr, n=num_samples, beta=tr.sampling_beta(beta),
                                    exact=exact_front))  # multi-objective
    finally:
        tr.task.close()
    try:
        atomic_write_text(run / "evaluation.json", json.dumps(res, indent=2))
        saved = None
    except OSError as e:  # a read-only run folder, a full disk: the metrics are still printed, the file skipped
        from molgfn.paths import os_error_message

        saved = os_error_message(e) or f"cannot write {run / 'evaluation.json'}: {e}"
    if fmt == Format.json:
        _print_json(res)
    else:
        table = Table("metric", "value")
        for key, v in res.items():
            table.add_row(key, f"{v:.5g}" if isinstance(v, float) else str(v))
        out.print(table)
    if saved is not None:  # printed above, not saved: exit 2 so that a script does not look for the file
        from molgfn.errors import InputError

        raise InputError(f"the metrics above were not saved: {saved}")
