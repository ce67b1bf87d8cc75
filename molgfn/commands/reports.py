"""`molgfn report` and `molgfn info`: what a run wrote, as a report or printed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from .base import console, out
from .common import _print_json
from .errors import friendly
from .options import ForceOpt, Format, FormatOpt, _check_ranges


@friendly
def report(
    run: Annotated[Path, typer.Argument(help="A run directory written by train or design.")],
    out_dir: Annotated[Path | None, typer.Option("--out", help="Folder for the report (default: the run).")]
    = None,
    top: Annotated[int, typer.Option(help="Molecules in the grid (from candidates.csv).")] = 24,
    force: ForceOpt = False,
) -> None:
    """Report of a run: training curves (metrics.csv), a grid of the top molecules (candidates.csv) as PNGs,
    and report.html with both, the sortable candidate table and the Pareto front (one file, works offline)."""
    from molgfn.errors import RunFileError
    from molgfn.report import make_report
    from molgfn.runs import CANDIDATES, CONFIG, METRICS

    _check_ranges(("--top", top, 1, 10_000))
    from molgfn.paths import check_output_dir
    from molgfn.report import CURVES_PNG, HTML, MOLECULES_PNG

    check_output_dir(out_dir or run, (HTML, CURVES_PNG, MOLECULES_PNG), force=force, flag="--out" if out_dir else "RUN",
                     own_names=(CURVES_PNG, MOLECULES_PNG))
    fix = {METRICS: "restore it from a backup, or start the run again with --overwrite",
           CANDIDATES: "write it again with `molgfn design --out RUN --resume` (same options)"}
    for name, numeric in ((METRICS, ("round", "reward_calls", "loss")), (CANDIDATES, ("raw_score", "reward"))):
        if run.is_dir() and (run / name).exists():
            _check_table(run / name, numeric, fix[name])
    if run.is_dir() and (run / CONFIG).exists():
        from molgfn.config import TrainConfig

        TrainConfig.load(run / CONFIG)  # a damaged config.json ([1,2,3], truncated, binary) is named
    try:
        written = make_report(run, out_dir, top)
    except (KeyError, ValueError, TypeError, IndexError) as e:
        raise RunFileError(f"{run / METRICS} or {run / CANDIDATES} has content molgfn did not write "
                           f"({type(e).__name__}: {e}); {fix[METRICS]}") from None
    except OSError as e:
        how = "choose another --out" if out_dir is not None else "write it elsewhere with --out DIR"
        raise RunFileError(f"cannot write the report to {e.filename or out_dir or run}: {e.strerror or e}; {how}") \
            from None
    for p in written:
        console.print(f"wrote {p}")


def _check_table(path: Path, numeric: tuple[str, ...], fix: str) -> None:
    """A run's CSV must parse, and its known numeric columns (when present) must be numbers."""
    import pandas as pd

    from molgfn.errors import RunFileError

    try:
        df = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as e:
        raise RunFileError(f"{path} is damaged ({type(e).__name__}: {str(e).strip()[:100]}); {fix}") from None
    cols = [c for c in numeric if c in df.columns]
    if len(cols) == 0 or any(not pd.api.types.is_numeric_dtype(df[c]) for c in cols):
        raise RunFileError(f"{path} is damaged (its columns {', '.join(numeric)} are missing or not numbers); {fix}")


@friendly
def info(run: Annotated[Path, typer.Argument(help="A run directory.")], fmt: FormatOpt = Format.table) -> None:
    """Print a run's config and its last metrics."""
    from molgfn.config import TrainConfig
    from molgfn.errors import InputError, RunFileError
    from molgfn.runs import CONFIG, METRICS

    if not (run / CONFIG).exists():
        raise InputError(f"{run} is not a run directory (no {CONFIG})")
    TrainConfig.load(run / CONFIG)  # a damaged config.json is named, not printed
    if fmt == Format.json:  # one object: {"config": ..., "last_metrics": {...} or null}
        import pandas as pd

        last = None
        if (run / METRICS).exists() and (run / METRICS).stat().st_size > 0:
            try:
                df = pd.read_csv(run / METRICS)
            except (ValueError, UnicodeDecodeError) as e:
                raise RunFileError(f"{run / METRICS} is damaged ({type(e).__name__}); restore it from a backup, or "
                                   "start the run again with --overwrite") from None
            last = df.tail(1).to_dict(orient="records")[0] if len(df) else None
        _print_json({"config": json.loads((run / CONFIG).read_text()), "last_metrics": last})
        return
    out.print_json((run / CONFIG).read_text())
    if (run / METRICS).exists():
        try:
            lines = (run / METRICS).read_bytes().decode().splitlines()
        except UnicodeDecodeError:
            raise RunFileError(f"{run / METRICS} is damaged (not text); restore it from a backup, or start the run "
                               "again with --overwrite") from None
        if len(lines) > 1:
            out.print(lines[0], highlight=False)
            out.print(lines[-1], highlight=False)
