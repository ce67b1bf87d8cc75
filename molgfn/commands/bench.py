"""`molgfn bench`: a grid of tasks x methods x seeds at equal reward calls."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from .base import console
from .common import _task
from .errors import friendly
from .options import (
    AlphabetOpt,
    DataDirOpt,
    ExpOpt,
    ForceOpt,
    LengthOpt,
    OracleOpt,
    Preset,
    ProgressMode,
    TaskOptionOpt,
)

MAX_BENCH_WORKERS = 256


@friendly
def bench(
    preset: Annotated[Preset, typer.Option(metavar="NAME", help="small (minutes on 2 cores), results (the budgets of "
                                           "bench/RESULTS.md), paper (the papers' budgets) or pmo (the PMO "
                                           "benchmark: 20 oracles at 10,000 calls, bench/PMO.md).")] = Preset.small,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for curves.csv, results.csv, "
                                          "results.md and PNG plots.")] = Path("bench/results"),
    tasks: Annotated[str | None, typer.Option(help="Comma-separated tasks (default: the preset's).")] = None,
    methods: Annotated[str | None, typer.Option(help="Comma-separated methods: tb, tb-ls, logit-ls, layer-ls, "
                                                "logit, layer, design (each task's design recipe).")] = None,
    seeds: Annotated[str | None, typer.Option(help="Comma-separated seeds (default 0,1,2).")] = None,
    rounds: Annotated[int | None, typer.Option(help="Rounds per run, overriding the preset.")] = None,
    max_oracle_calls: Annotated[int | None, typer.Option(help="Oracle-call budget per run "
                                                         "(PMO's count), overriding the preset's.")] = None,
    workers: Annotated[int, typer.Option(help="Runs in parallel (processes, at most 256; 1: in this process).")] = 2,
    lr: Annotated[float, typer.Option(help="Policy learning rate of every run (the papers used 1e-4).")] = 1e-3,
    data_dir: DataDirOpt = None,
    oracle: OracleOpt = None,
    alphabet: AlphabetOpt = "ACGT",
    length: LengthOpt = 8,
    reward_exponent: ExpOpt = 1.0,
    task_option: TaskOptionOpt = None,
    progress: Annotated[ProgressMode, typer.Option(help="auto: a bar on a terminal, a line per finished run in a "
                                                   "log file.")] = ProgressMode.auto,
    force: ForceOpt = False,
) -> None:
    """Run a grid of tasks x methods x seeds at equal reward calls; write CSV, Markdown and plots.
    With --oracle, the grid runs your function (task custom, or custom-frag with --tasks custom-frag)."""
    from molgfn import assets
    from molgfn import bench as B
    from molgfn.errors import InputError
    from molgfn.limits import check_ranges

    # each parallel run is a process with its own torch: a bound, not a fork bomb (1e12 would start every run at once)
    budget = B.PRESETS[preset].max_oracle_calls if max_oracle_calls is None else max_oracle_calls
    check_ranges(("--workers", workers, 1, MAX_BENCH_WORKERS), ("--max-oracle-calls", budget or 1, 1, 10**9))
    assets.set_data_dir(data_dir)
    split = lambda v: [x.strip() for x in v.split(",") if x.strip()] if v else None  # noqa: E731
    bad = [m for m in (split(methods) or []) if m not in B.METHODS]
    if bad:
        raise InputError(f"unknown method(s) {bad}; choose from {', '.join(B.METHODS)}")
    try:
        seed_list = [int(x) for x in split(seeds)] if seeds else None
    except ValueError:
        raise InputError(f"--seeds must be whole numbers separated by commas, got {seeds!r}") from None
    from molgfn.tasks import get_task, registry
    from molgfn.tracking import GridProgress

    unknown = [t for t in (split(tasks) or []) if t not in registry()]
    if unknown:
        raise InputError(f"unknown task(s) {unknown}; known tasks: {', '.join(sorted(registry()))}")
    task_list = split(tasks) or (["custom"] if oracle else None)
    task_opts = {}
    for t in task_list or B.PRESETS[preset].tasks:  # build each task once now: a bad option fails before any run
        _, opts, task_obj = _task(t, oracle if t in ("custom", "custom-frag") else None, alphabet, length,
                                  reward_exponent, 1 if t in ("custom", "custom-frag") else None,
                                  task_option=task_option)
        getattr(task_obj, "env", None)  # a fragment task builds its blocks on first use: its asset is checked now
        task_obj.close()
        task_opts[t] = opts
    jobs = B.grid_jobs(B.PRESETS[preset], task_list, split(methods), seed_list, rounds, budget)
    from molgfn.paths import check_output_dir, written_by_molgfn

    check_output_dir(out_dir, B.output_names({j[0] for j in jobs}), force=force,
                     ours=lambda p: B.is_bench_dir(p.parent) or written_by_molgfn(p))
    with GridProgress(jobs, progress, console) as prog:
        B.run_grid(B.PRESETS[preset], out_dir, workers, task_list, split(methods), seed_list, rounds, lr,
                   str(data_dir) if data_dir else None, task_options=task_opts, make_task=get_task, progress=prog,
                   max_oracle_calls=budget)
    md = B.write_report(out_dir, "molgfn bench " + " ".join(sys.argv[2:]))
    sys.stdout.write(md)
